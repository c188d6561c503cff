"""Single-node KRaft Kafka broker (combined broker + controller) for the local stack.

The broker jars are resolved with Maven from ``devstack/kafka/pom.xml`` into
``<state>/kafka/libs`` (re-resolved only when the pom changes) and the broker runs as a
detached ``java -cp '<libs>/*' kafka.Kafka server.properties`` process bound to 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devstack.logfiles import tail

log = logging.getLogger("devstack.kafka")

POM_PATH = Path(__file__).resolve().parent / "kafka" / "pom.xml"
KAFKA_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
HOST = "127.0.0.1"
NODE_ID = 1

JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
TOOL_JVM_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")

MAVEN_TIMEOUT_S = 900.0
FORMAT_TIMEOUT_S = 120.0
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.2

_METADATA_API_KEY = 3
_METADATA_API_VERSION = 4
_CLIENT_ID = b"devstack"

# Runs "$@" in the background with its output appended to the log file ($0) and prints its
# PID.  The shell exits at once, so the broker is re-parented to init: it outlives the caller
# and never becomes a zombie child of it.
_DETACH_SCRIPT = '"$@" </dev/null >>"$0" 2>&1 & echo $!'


class KafkaError(RuntimeError):
    """Raised when the Kafka broker cannot be resolved, configured, started or stopped."""


@dataclass(frozen=True)
class KafkaLayout:
    """Paths of the broker's files under ``<state>/kafka``."""

    root: Path

    @property
    def libs_dir(self) -> Path:
        """Directory with the broker's runtime jars."""
        return self.root / "libs"

    @property
    def libs_stamp(self) -> Path:
        """File holding the sha256 of the pom the jars were resolved from."""
        return self.root / "libs.stamp"

    @property
    def data_dir(self) -> Path:
        """The broker's ``log.dirs`` (topic data and KRaft metadata log)."""
        return self.root / "data"

    @property
    def config_file(self) -> Path:
        """The generated ``server.properties``."""
        return self.root / "server.properties"

    @property
    def log4j_file(self) -> Path:
        """The generated log4j2 configuration."""
        return self.root / "log4j2.properties"

    @property
    def server_log(self) -> Path:
        """The broker's log4j2 log file."""
        return self.root / "logs" / "server.log"

    @property
    def console_log(self) -> Path:
        """Where the broker JVM's stdout/stderr go."""
        return self.root / "kafka.out"

    @property
    def maven_log(self) -> Path:
        """Output of the last Maven jar resolution."""
        return self.root / "maven.log"

    @property
    def format_log(self) -> Path:
        """Output of the last storage format run."""
        return self.root / "format.log"


def kafka_layout(state_dir: Path) -> KafkaLayout:
    """Return the Kafka file layout for a stack state directory."""
    return KafkaLayout(root=state_dir / "kafka")


def _failure(message: str, *logs: Path) -> KafkaError:
    details = "".join(f"\n--- last lines of {path} ---\n{tail(path)}" for path in logs)
    return KafkaError(message + details)


# --- jar resolution ------------------------------------------------------------------------


def pom_digest() -> str:
    """Return the sha256 hex digest of the Kafka pom."""
    return hashlib.sha256(POM_PATH.read_bytes()).hexdigest()


def libs_current(layout: KafkaLayout) -> bool:
    """Tell whether the cached jars were resolved from the current pom."""
    try:
        stamp = layout.libs_stamp.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return stamp == pom_digest() and any(layout.libs_dir.glob("kafka_2.13-*.jar"))


def ensure_libs(layout: KafkaLayout) -> None:
    """Resolve the broker jars with Maven unless the cached ones match the pom."""
    if libs_current(layout):
        return
    log.info("resolving Kafka jars with Maven into %s (first run downloads them)", layout.libs_dir)
    started = time.monotonic()
    partial = layout.root / "libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    _run_maven(partial, layout.maven_log)
    shutil.rmtree(layout.libs_dir, ignore_errors=True)
    partial.rename(layout.libs_dir)
    layout.libs_stamp.write_text(pom_digest() + "\n", encoding="utf-8")
    log.info("Kafka jars resolved in %.1fs", time.monotonic() - started)


def _run_maven(output_dir: Path, log_file: Path) -> None:
    command = [
        _require_executable("mvn", "Maven"),
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(POM_PATH),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={output_dir}",
        "-DincludeScope=runtime",
    ]
    _run_logged(command, log_file, MAVEN_TIMEOUT_S, "Maven could not resolve the Kafka jars")


def _require_executable(name: str, what: str) -> str:
    found = shutil.which(name)
    if found is None and name == "java" and os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        found = str(candidate) if os.access(candidate, os.X_OK) else None
    if found is None:
        raise KafkaError(
            f"{what} ({name}) was not found on PATH; run `make install` to install the "
            "development prerequisites (Java 17+ and Maven)."
        )
    return found


def _run_logged(command: Sequence[str], log_file: Path, timeout: float, failure: str) -> None:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("w", encoding="utf-8") as output:
        try:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise _failure(f"{failure}: timed out after {timeout:.0f}s", log_file) from exc
    if result.returncode != 0:
        raise _failure(f"{failure}: exit status {result.returncode}", log_file)


# --- configuration -------------------------------------------------------------------------


def server_properties(layout: KafkaLayout, port: int, controller_port: int) -> str:
    """Render ``server.properties`` for a single-node KRaft broker + controller."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(layout.data_dir),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "share.coordinator.state.topic.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Fast re-registration after an unclean stop (defaults: 9000 / 2000 ms).
        "broker.session.timeout.ms": "4000",
        "broker.heartbeat.interval.ms": "1000",
        "num.network.threads": "2",
        "num.io.threads": "2",
        "background.threads": "2",
        "num.recovery.threads.per.data.dir": "1",
        "log.segment.bytes": str(16 * 1024 * 1024),
        "log.retention.hours": "24",
        "log.retention.check.interval.ms": "60000",
    }
    lines = ["# Generated by devstack/kafka.py on every start; edits are overwritten."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def log4j2_properties(layout: KafkaLayout) -> str:
    """Render a log4j2 configuration that sends all broker logging to a rolling file."""
    log_file = layout.server_log
    return f"""# Generated by devstack/kafka.py; broker logs go to a file, never to stdout.
status = warn
name = devstack-kafka
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = {log_file}
appender.file.filePattern = {log_file}.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 10MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
"""


def write_config(layout: KafkaLayout, port: int, controller_port: int) -> None:
    """Write ``server.properties`` and the log4j2 configuration for the given ports."""
    layout.server_log.parent.mkdir(parents=True, exist_ok=True)
    layout.config_file.write_text(server_properties(layout, port, controller_port), "utf-8")
    layout.log4j_file.write_text(log4j2_properties(layout), encoding="utf-8")


def _java_command(layout: KafkaLayout, jvm_options: Sequence[str], *args: str) -> list[str]:
    return [
        _require_executable("java", "Java"),
        *jvm_options,
        f"-Dlog4j2.configurationFile={layout.log4j_file}",
        f"-Dkafka.logs.dir={layout.server_log.parent}",
        "-cp",
        str(layout.libs_dir / "*"),
        *args,
    ]


# --- storage -------------------------------------------------------------------------------


def new_cluster_id() -> str:
    """Return a random cluster id in Kafka's format (URL-safe base64 of a UUID, no '-' lead)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def ensure_formatted(layout: KafkaLayout) -> None:
    """Format the KRaft storage with ``kafka.tools.StorageTool`` unless already formatted."""
    if (layout.data_dir / "meta.properties").exists():
        return
    log.info("formatting Kafka storage in %s", layout.data_dir)
    command = _java_command(
        layout,
        TOOL_JVM_OPTIONS,
        STORAGE_TOOL_CLASS,
        "format",
        "--cluster-id",
        new_cluster_id(),
        "--config",
        str(layout.config_file),
        "--ignore-formatted",
    )
    _run_logged(command, layout.format_log, FORMAT_TIMEOUT_S, "formatting Kafka storage failed")


# --- process control -----------------------------------------------------------------------


def _read_cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if stat.rpartition(")")[2].split()[:1] == ["Z"]:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_broker_process(pid: int, layout: KafkaLayout) -> bool:
    """Tell whether ``pid`` is a live broker started with this layout's configuration."""
    argv = _read_cmdline(pid)
    return argv is not None and KAFKA_MAIN_CLASS in argv and str(layout.config_file) in argv


def find_broker_pid(layout: KafkaLayout, hint: int | None = None) -> int | None:
    """Return the PID of this layout's running broker (checking ``hint`` first), if any."""
    if hint is not None and is_broker_process(hint, layout):
        return hint
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and is_broker_process(int(entry.name), layout):
            return int(entry.name)
    return None


def _spawn_detached(command: Sequence[str], log_file: Path, cwd: Path) -> int:
    with log_file.open("a", encoding="utf-8") as output:
        output.write(f"\n=== devstack: starting broker at {time.strftime('%F %T')} ===\n")
    result = subprocess.run(
        ["/bin/sh", "-c", _DETACH_SCRIPT, str(log_file), *command],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        start_new_session=True,
    )
    if result.returncode != 0 or not result.stdout.strip().isdigit():
        raise KafkaError(f"could not launch the Kafka broker: {result.stderr.strip()}")
    return int(result.stdout.strip())


def start_kafka(
    state_dir: Path, port: int, controller_port: int, timeout: float = START_TIMEOUT_S
) -> int:
    """Resolve, configure, format and start the broker; wait until it serves metadata.

    Returns the broker's PID.  Raises ``KafkaError`` (with the tail of the broker log) if it
    does not become ready before ``timeout`` seconds.
    """
    layout = kafka_layout(state_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    ensure_libs(layout)
    write_config(layout, port, controller_port)
    ensure_formatted(layout)
    command = _java_command(layout, JVM_OPTIONS, KAFKA_MAIN_CLASS, str(layout.config_file))
    pid = _spawn_detached(command, layout.console_log, cwd=layout.root)
    log.info("Kafka broker starting (pid %d) on %s:%d", pid, HOST, port)
    try:
        wait_until_ready(port, pid, time.monotonic() + timeout, layout)
    except BaseException:
        _terminate(pid, STOP_TIMEOUT_S)
        raise
    return pid


def wait_until_ready(port: int, pid: int, deadline: float, layout: KafkaLayout) -> None:
    """Poll the broker with Metadata requests until it lists itself or ``deadline`` passes."""
    last_error = "no attempt made"
    while time.monotonic() < deadline:
        if _read_cmdline(pid) is None:
            raise _failure(
                f"Kafka broker (pid {pid}) exited during startup",
                layout.console_log,
                layout.server_log,
            )
        try:
            if metadata_broker_count(port, timeout=2.0) > 0:
                return
            last_error = "metadata lists no brokers yet"
        except (OSError, struct.error) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(POLL_INTERVAL_S)
    raise _failure(
        f"Kafka broker (pid {pid}) not ready on {HOST}:{port} in time ({last_error})",
        layout.console_log,
        layout.server_log,
    )


def metadata_broker_count(port: int, timeout: float) -> int:
    """Send a Metadata (v4, no topics) request and return how many brokers it lists."""
    header = struct.pack(">hhih", _METADATA_API_KEY, _METADATA_API_VERSION, 1, len(_CLIENT_ID))
    body = struct.pack(">ib", 0, 0)  # empty topic list, allow_auto_topic_creation=false
    payload = header + _CLIENT_ID + body
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        response = _recv_exact(sock, size)
    _correlation_id, _throttle_ms, broker_count = struct.unpack_from(">iii", response)
    return int(broker_count)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def stop_kafka(
    state_dir: Path, pid_hint: int | None = None, timeout: float = STOP_TIMEOUT_S
) -> None:
    """Stop this state directory's broker: SIGTERM, wait up to ``timeout`` s, then SIGKILL."""
    layout = kafka_layout(state_dir)
    pid = find_broker_pid(layout, pid_hint)
    if pid is None:
        return
    log.info("stopping Kafka broker (pid %d)", pid)
    _terminate(pid, timeout)


def _terminate(pid: int, timeout: float) -> None:
    if not _signal(pid, signal.SIGTERM):
        return
    if _wait_for_exit(pid, time.monotonic() + timeout):
        return
    log.warning("Kafka broker (pid %d) ignored SIGTERM for %.0fs; killing it", pid, timeout)
    _signal(pid, signal.SIGKILL)
    if not _wait_for_exit(pid, time.monotonic() + 10.0):
        raise KafkaError(f"Kafka broker (pid {pid}) survived SIGKILL")


def _signal(pid: int, signum: signal.Signals) -> bool:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    return True


def _wait_for_exit(pid: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if _read_cmdline(pid) is None:
            return True
        time.sleep(0.1)
    return _read_cmdline(pid) is None
