"""The local infrastructure stack (Kafka + PostgreSQL): ``up``, ``down`` and ``status``.

State lives in ``<state>/stack.json`` (mode 0600: ports, PIDs, passwords, paths) and every
``up``/``down`` holds ``flock(<state>/stack.lock)`` so concurrent callers never both start
services.  Nothing here writes to stdout; progress goes to the ``devstack`` logger.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from devstack import kafka, postgres

log = logging.getLogger("devstack")

STATE_DIR_ENV = "ABAUTO_STACK_DIR"
STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"
STATE_VERSION = 1
HOST = "127.0.0.1"

_T = TypeVar("_T")


@dataclass(frozen=True)
class StackInfo:
    """How to reach the running stack."""

    kafka_bootstrap: str
    database_url: str
    admin_database_url: str


@dataclass(frozen=True)
class KafkaRecord:
    """Persisted Kafka settings: ports are reused across restarts when still free."""

    port: int
    controller_port: int
    pid: int | None = None


@dataclass(frozen=True)
class PostgresRecord:
    """Persisted PostgreSQL settings; the passwords are those the cluster was made with."""

    port: int
    superuser_password: str
    app_password: str
    pid: int | None = None


@dataclass(frozen=True)
class StackState:
    """Contents of ``stack.json``."""

    kafka: KafkaRecord | None = None
    postgres: PostgresRecord | None = None


# --- public API ----------------------------------------------------------------------------


def default_state_dir() -> Path:
    """Return ``$ABAUTO_STACK_DIR`` if set, else ``<repository root>/.stack``."""
    configured = os.environ.get(STATE_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(__file__).resolve().parents[1] / ".stack"


def up(state_dir: Path | None = None) -> StackInfo:
    """Start whatever part of the stack is not running and return how to reach it.

    Idempotent and safe to call concurrently from several processes: when both services
    already run and accept connections this returns at once.  Previously chosen ports and
    passwords are reused whenever possible.
    """
    root = _state_root(state_dir)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(root):
        state = _load_state(root)
        kafka_ok = _kafka_healthy(root, state.kafka)
        postgres_ok = _postgres_healthy(root, state.postgres)
        if not (kafka_ok and postgres_ok):
            state = _start_missing(root, state, kafka_ok=kafka_ok, postgres_ok=postgres_ok)
        return _stack_info(state)


def down(state_dir: Path | None = None) -> None:
    """Stop Kafka and PostgreSQL (data, ports and passwords are kept for the next ``up``)."""
    root = _state_root(state_dir)
    if not root.is_dir():
        return
    with _locked(root):
        state = _load_state(root)
        errors = _collect_errors(
            lambda: kafka.stop_kafka(root, state.kafka.pid if state.kafka else None),
            lambda: postgres.stop_postgres(root),
        )
        kafka_record = replace(state.kafka, pid=None) if state.kafka else None
        postgres_record = replace(state.postgres, pid=None) if state.postgres else None
        _save_state(root, StackState(kafka=kafka_record, postgres=postgres_record))
    if errors:
        raise errors[0]


def status(state_dir: Path | None = None) -> dict[str, object]:
    """Describe the stack: running/reachable flags, PIDs, ports and log files (no secrets)."""
    root = _state_root(state_dir)
    state = _load_state(root)
    return {
        "state_dir": str(root),
        "kafka": _kafka_status(root, state.kafka),
        "postgres": _postgres_status(root, state.postgres),
    }


# --- health --------------------------------------------------------------------------------


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _kafka_healthy(root: Path, record: KafkaRecord | None) -> bool:
    if record is None or record.pid is None:
        return False
    layout = kafka.kafka_layout(root)
    return (
        kafka.is_broker_process(record.pid, layout)
        and kafka.libs_current(layout)
        and _port_accepts(record.port)
    )


def _postgres_healthy(root: Path, record: PostgresRecord | None) -> bool:
    if record is None:
        return False
    postmaster = postgres.read_postmaster(postgres.postgres_layout(root))
    return postmaster is not None and postmaster.port == record.port and _port_accepts(record.port)


def _kafka_status(root: Path, record: KafkaRecord | None) -> dict[str, object]:
    layout = kafka.kafka_layout(root)
    pid = kafka.find_broker_pid(layout, record.pid if record else None)
    port = record.port if record else None
    return {
        "running": pid is not None,
        "reachable": pid is not None and port is not None and _port_accepts(port),
        "pid": pid,
        "port": port,
        "controller_port": record.controller_port if record else None,
        "bootstrap": f"{HOST}:{port}" if port is not None else None,
        "log_file": str(layout.server_log),
    }


def _postgres_status(root: Path, record: PostgresRecord | None) -> dict[str, object]:
    layout = postgres.postgres_layout(root)
    postmaster = postgres.read_postmaster(layout)
    port = postmaster.port if postmaster else (record.port if record else None)
    return {
        "running": postmaster is not None,
        "reachable": postmaster is not None and _port_accepts(postmaster.port),
        "pid": postmaster.pid if postmaster else None,
        "port": port,
        "data_dir": str(layout.data_dir),
        "log_file": str(layout.log_file),
    }


# --- starting ------------------------------------------------------------------------------


def _start_missing(
    root: Path, state: StackState, *, kafka_ok: bool, postgres_ok: bool
) -> StackState:
    """Stop leftovers of the unhealthy services, then start those services in parallel."""
    if not kafka_ok:
        kafka.stop_kafka(root, state.kafka.pid if state.kafka else None)
    if not postgres_ok:
        postgres.stop_postgres(root)
    ports = choose_ports(_wanted_ports(state, kafka_ok=kafka_ok, postgres_ok=postgres_ok))
    kafka_record, postgres_record = state.kafka, state.postgres
    errors: list[Exception] = []
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="devstack") as pool:
        kafka_future: Future[KafkaRecord] | None = None
        postgres_future: Future[PostgresRecord] | None = None
        if not kafka_ok:
            kafka_record = KafkaRecord(port=ports.pop(0), controller_port=ports.pop(0))
            kafka_future = pool.submit(_start_kafka, root, kafka_record)
        if not postgres_ok:
            postgres_record = _plan_postgres(state.postgres, ports.pop(0))
            reinitialise = state.postgres is None
            postgres_future = pool.submit(_start_postgres, root, postgres_record, reinitialise)
        kafka_record = _outcome("Kafka", kafka_future, kafka_record, errors)
        postgres_record = _outcome("PostgreSQL", postgres_future, postgres_record, errors)
    log.info("stack started in %.1fs", time.monotonic() - started)
    new_state = StackState(kafka=kafka_record, postgres=postgres_record)
    _save_state(root, new_state)
    if errors:
        raise errors[0]
    return new_state


def _wanted_ports(state: StackState, *, kafka_ok: bool, postgres_ok: bool) -> list[int | None]:
    """Ports to reuse (None: any free port) for the services about to be started."""
    wanted: list[int | None] = []
    if not kafka_ok:
        wanted += [state.kafka.port, state.kafka.controller_port] if state.kafka else [None, None]
    if not postgres_ok:
        wanted.append(state.postgres.port if state.postgres else None)
    return wanted


def _plan_postgres(previous: PostgresRecord | None, port: int) -> PostgresRecord:
    """Reuse the known passwords; without them the cluster is re-created with new ones."""
    return PostgresRecord(
        port=port,
        superuser_password=previous.superuser_password if previous else _new_password(),
        app_password=previous.app_password if previous else _new_password(),
    )


def _start_kafka(root: Path, record: KafkaRecord) -> KafkaRecord:
    pid = kafka.start_kafka(root, record.port, record.controller_port)
    return replace(record, pid=pid)


def _start_postgres(root: Path, record: PostgresRecord, reinitialise: bool) -> PostgresRecord:
    pid = postgres.start_postgres(
        root,
        record.port,
        record.superuser_password,
        record.app_password,
        reinitialise=reinitialise,
    )
    return replace(record, pid=pid)


def _outcome(
    name: str, future: Future[_T] | None, planned: _T | None, errors: list[Exception]
) -> _T | None:
    """Return the future's result, or record its error and fall back to ``planned``."""
    if future is None:
        return planned
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - collected; the first one is re-raised
        log.error("starting %s failed: %s", name, exc)
        errors.append(exc)
        return planned


def _collect_errors(*actions: Callable[[], None]) -> list[Exception]:
    errors: list[Exception] = []
    for action in actions:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - every service is stopped, then re-raised
            log.error("%s", exc)
            errors.append(exc)
    return errors


def choose_ports(preferred: Sequence[int | None]) -> list[int]:
    """Return distinct free loopback ports, keeping each preferred port that is still free."""
    sockets: list[socket.socket] = []
    try:
        for port in preferred:
            sock = _bind_loopback(port) if port else None
            sockets.append(sock if sock is not None else _bind_loopback_any())
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _bind_loopback(port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        return None
    return sock


def _bind_loopback_any() -> socket.socket:
    sock = _bind_loopback(0)
    if sock is None:
        raise OSError(f"cannot bind any port on {HOST}")
    return sock


def _new_password() -> str:
    return secrets.token_urlsafe(24)


def _stack_info(state: StackState) -> StackInfo:
    if state.kafka is None or state.postgres is None:
        raise RuntimeError("the stack state is incomplete after starting it")
    pg = state.postgres
    address = f"{HOST}:{pg.port}/{postgres.APP_DATABASE}"
    return StackInfo(
        kafka_bootstrap=f"{HOST}:{state.kafka.port}",
        database_url=f"postgresql+asyncpg://{postgres.APP_ROLE}:{pg.app_password}@{address}",
        admin_database_url=(
            f"postgresql+asyncpg://{postgres.SUPERUSER}:{pg.superuser_password}@{address}"
        ),
    )


# --- state file and lock -------------------------------------------------------------------


def _state_root(state_dir: Path | None) -> Path:
    return (state_dir if state_dir is not None else default_state_dir()).expanduser().resolve()


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``<state>/stack.lock`` for the duration of the block."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process that is starting/stopping the stack")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _load_state(root: Path) -> StackState:
    try:
        raw = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return StackState()
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", root / STATE_FILE, exc)
        return StackState()
    if not isinstance(raw, dict) or raw.get("version") != STATE_VERSION:
        return StackState()
    return StackState(
        kafka=_parse_kafka(raw.get("kafka")), postgres=_parse_postgres(raw.get("postgres"))
    )


def _int_field(raw: Mapping[str, object], key: str) -> int | None:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_field(raw: Mapping[str, object], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) and value else None


def _parse_kafka(raw: object) -> KafkaRecord | None:
    if not isinstance(raw, dict):
        return None
    port, controller_port = _int_field(raw, "port"), _int_field(raw, "controller_port")
    if port is None or controller_port is None:
        return None
    return KafkaRecord(port=port, controller_port=controller_port, pid=_int_field(raw, "pid"))


def _parse_postgres(raw: object) -> PostgresRecord | None:
    if not isinstance(raw, dict):
        return None
    port = _int_field(raw, "port")
    superuser_password = _str_field(raw, "superuser_password")
    app_password = _str_field(raw, "app_password")
    if port is None or superuser_password is None or app_password is None:
        return None
    return PostgresRecord(
        port=port,
        superuser_password=superuser_password,
        app_password=app_password,
        pid=_int_field(raw, "pid"),
    )


def _save_state(root: Path, state: StackState) -> None:
    """Atomically write ``stack.json`` with mode 0600."""
    kafka_layout = kafka.kafka_layout(root)
    postgres_layout = postgres.postgres_layout(root)
    document = {
        "version": STATE_VERSION,
        "kafka": vars(state.kafka) if state.kafka else None,
        "postgres": vars(state.postgres) if state.postgres else None,
        "paths": {
            "kafka_dir": str(kafka_layout.root),
            "kafka_log": str(kafka_layout.server_log),
            "postgres_data_dir": str(postgres_layout.data_dir),
            "postgres_log": str(postgres_layout.log_file),
        },
    }
    temporary = root / f".{STATE_FILE}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, root / STATE_FILE)
