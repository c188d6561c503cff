"""Throw-away PostgreSQL cluster for the local stack, bound to 127.0.0.1.

PostgreSQL refuses to run as root, so when the caller is root every server-side command
(initdb, pg_ctl, postgres) runs as the ``postgres`` system user and the cluster lives in
``/var/tmp/abauto-pg-<hash>/`` (the state directory may sit inside a 0700 directory that the
``postgres`` user cannot traverse).  Otherwise the cluster lives in ``<state>/postgres``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devstack.logfiles import tail

log = logging.getLogger("devstack.postgres")

HOST = "127.0.0.1"
SUPERUSER = "postgres"
APP_ROLE = "abauto"
APP_DATABASE = "abauto"
SERVICE_USER = "postgres"
# Fixed, predictable name by design; _make_private_dir refuses a directory owned by others.
ROOT_BASE_PREFIX = "/var/tmp/abauto-pg-"  # noqa: S108
SETTINGS_FILE = "devstack.conf"
DEBIAN_LIB_ROOT = Path("/usr/lib/postgresql")

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 120.0
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes including ".s.PGSQL.<port>" and the NUL

FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "password_encryption": "'scram-sha-256'",
}


class PostgresError(RuntimeError):
    """Raised when the PostgreSQL cluster cannot be initialised, started or stopped."""


class PostgresNotInstalledError(PostgresError):
    """Raised when no PostgreSQL server binaries can be found."""


@dataclass(frozen=True)
class PostgresLayout:
    """Where the cluster lives and which system user runs it (None: the current user)."""

    base_dir: Path
    service_user: str | None

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (PGDATA)."""
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        """The server log written by ``pg_ctl -l``."""
        return self.base_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        """Unix socket directory: the data dir's parent, or a short temp dir if too long."""
        if len(str(self.base_dir)) + len("/.s.PGSQL.65535") <= _MAX_SOCKET_PATH:
            return self.base_dir
        digest = hashlib.sha256(str(self.base_dir).encode()).hexdigest()[:8]
        return Path(tempfile.gettempdir()) / f"abauto-pg-sock-{digest}"


@dataclass(frozen=True)
class Postmaster:
    """A running server, as recorded in ``postmaster.pid``."""

    pid: int
    port: int


def running_as_root() -> bool:
    """Tell whether this process runs with effective uid 0."""
    return os.geteuid() == 0


def postgres_layout(state_dir: Path) -> PostgresLayout:
    """Return where the cluster of a stack state directory lives."""
    if not running_as_root():
        return PostgresLayout(base_dir=state_dir / "postgres", service_user=None)
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:8]
    return PostgresLayout(base_dir=Path(ROOT_BASE_PREFIX + digest), service_user=SERVICE_USER)


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


# --- binaries and users --------------------------------------------------------------------


def find_bin_dir() -> Path:
    """Locate the PostgreSQL server binaries (``pg_ctl`` on PATH, else the newest Debian one)."""
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        return Path(on_path).resolve().parent
    candidates = [path.parent for path in DEBIAN_LIB_ROOT.glob("*/bin/pg_ctl") if path.is_file()]
    if not candidates:
        raise PostgresNotInstalledError(
            "PostgreSQL server binaries (pg_ctl, initdb, postgres) were not found on PATH or in "
            f"{DEBIAN_LIB_ROOT}/*/bin; run `make install` to install PostgreSQL."
        )
    return max(candidates, key=_major_version_of_bin_dir)


def _major_version_of_bin_dir(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name)) or (0,)


def server_major_version(bin_dir: Path) -> str:
    """Return the major version (e.g. ``"15"``) of the binaries in ``bin_dir``."""
    output = subprocess.run(
        [str(bin_dir / "pg_ctl"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", output)
    if match is None:
        raise PostgresError(f"cannot parse the PostgreSQL version from {output.strip()!r}")
    return match.group(1)


def ensure_service_user() -> pwd.struct_passwd:
    """Return the ``postgres`` system user, creating it with useradd if it is missing."""
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        log.info("creating the %s system user", SERVICE_USER)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    subprocess.run(
        [useradd, "--system", "--no-create-home", SERVICE_USER],
        capture_output=True,
        timeout=COMMAND_TIMEOUT_S,
        check=True,
    )
    return pwd.getpwnam(SERVICE_USER)


def _as_service_user(layout: PostgresLayout, command: Sequence[str]) -> list[str]:
    if layout.service_user is None:
        return list(command)
    runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
    if runuser is not None:
        return [runuser, "-u", layout.service_user, "--", *command]
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        user = layout.service_user
        return [setpriv, f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *command]
    raise PostgresError("running as root but neither runuser nor setpriv is available")


def _make_private_dir(path: Path, layout: PostgresLayout) -> None:
    """Create ``path`` with mode 0700, owned by the service user when running as root."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    owner_uid, owner_gid = os.geteuid(), os.getegid()
    if layout.service_user is not None:
        account = ensure_service_user()
        owner_uid, owner_gid = account.pw_uid, account.pw_gid
    found_uid = path.stat().st_uid
    if found_uid not in (os.geteuid(), owner_uid):
        raise PostgresError(f"{path} belongs to uid {found_uid}; refusing to use it")
    if found_uid != owner_uid:
        os.chown(path, owner_uid, owner_gid)
    path.chmod(0o700)


def _write_private_file(path: Path, text: str, layout: PostgresLayout) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    if layout.service_user is not None:
        account = ensure_service_user()
        os.chown(path, account.pw_uid, account.pw_gid)


def _run(
    command: Sequence[str],
    failure: str,
    *,
    cwd: Path,
    layout: PostgresLayout,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
    timeout: float = COMMAND_TIMEOUT_S,
) -> str:
    """Run a command; on failure raise with its output and the server log tail (redacted)."""
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            input=input_text,
            stdin=None if input_text is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        raise _failure(f"{failure}: timed out after {timeout:.0f}s", layout, secrets) from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()
        message = f"{failure}: exit status {result.returncode}\n{output}"
        raise _failure(message, layout, secrets)
    return result.stdout


def _failure(message: str, layout: PostgresLayout, secrets: Sequence[str]) -> PostgresError:
    details = f"{message}\n--- last lines of {layout.log_file} ---\n{tail(layout.log_file)}"
    return PostgresError(_redact(details, secrets))


# --- cluster lifecycle ---------------------------------------------------------------------


def _read_pid_file(layout: PostgresLayout) -> list[str] | None:
    try:
        return (layout.data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    """Tell whether ``pid`` is a live (non-zombie) server whose working dir is ``data_dir``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
        if stat.rpartition(")")[2].split()[:1] == ["Z"]:
            return False
        return Path(os.readlink(f"/proc/{pid}/cwd")) == data_dir.resolve()
    except OSError:
        return False


def read_postmaster(layout: PostgresLayout) -> Postmaster | None:
    """Return the live server of this layout's data directory, if one is running."""
    lines = _read_pid_file(layout)
    if lines is None:
        return None
    try:
        pid, port = int(lines[0]), int(lines[3])
    except (ValueError, IndexError):
        return None
    if pid <= 0 or not _is_postmaster_of(pid, layout.data_dir):
        return None
    return Postmaster(pid=pid, port=port)


def _remove_stale_pid_file(layout: PostgresLayout) -> None:
    """Delete ``postmaster.pid`` left by a server that died (e.g. SIGKILL, or a zombie).

    PostgreSQL itself refuses to start while the recorded PID exists, which includes a
    zombie that an init without reaping keeps around.
    """
    lines = _read_pid_file(layout)
    if lines is None:
        return
    pid = int(lines[0]) if lines and lines[0].strip().isdigit() else 0
    if pid > 0 and _is_postmaster_of(pid, layout.data_dir):
        return
    log.warning("removing stale postmaster.pid (pid %d is not running)", pid)
    (layout.data_dir / "postmaster.pid").unlink(missing_ok=True)


def initialise(
    layout: PostgresLayout, bin_dir: Path, superuser_password: str, *, wipe: bool
) -> None:
    """Run initdb (scram-sha-256 auth, superuser ``postgres``) unless already initialised.

    With ``wipe`` the existing data directory is deleted first.  A data directory made by a
    different major version is always re-created (this is a throw-away development cluster).
    """
    _make_private_dir(layout.base_dir, layout)
    version_file = layout.data_dir / "PG_VERSION"
    if not wipe and version_file.exists():
        found = version_file.read_text(encoding="utf-8").strip()
        if found == server_major_version(bin_dir):
            return
        log.warning("data directory is from PostgreSQL %s; re-creating it", found)
    shutil.rmtree(layout.data_dir, ignore_errors=True)
    log.info("initialising PostgreSQL cluster in %s", layout.data_dir)
    password_file = layout.base_dir / "superuser.pw"
    _write_private_file(password_file, superuser_password + "\n", layout)
    try:
        _run_initdb(layout, bin_dir, password_file)
    finally:
        password_file.unlink(missing_ok=True)


def _run_initdb(layout: PostgresLayout, bin_dir: Path, password_file: Path) -> None:
    command = [
        str(bin_dir / "initdb"),
        f"--pgdata={layout.data_dir}",
        f"--username={SUPERUSER}",
        f"--pwfile={password_file}",
        "--auth-host=scram-sha-256",
        "--auth-local=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]
    _run(
        _as_service_user(layout, command),
        "initdb failed",
        cwd=layout.base_dir,
        layout=layout,
    )


def write_settings(layout: PostgresLayout, port: int) -> None:
    """Write the per-start settings file (port, loopback only, socket dir, fast settings)."""
    _make_private_dir(layout.socket_dir, layout)
    settings = {
        "listen_addresses": f"'{HOST}'",
        "port": str(port),
        "unix_socket_directories": f"'{layout.socket_dir}'",
        **FAST_SETTINGS,
    }
    text = "# Generated by devstack/postgres.py on every start; edits are overwritten.\n"
    text += "".join(f"{key} = {value}\n" for key, value in settings.items())
    _write_private_file(layout.data_dir / SETTINGS_FILE, text, layout)
    _ensure_settings_included(layout)


def _ensure_settings_included(layout: PostgresLayout) -> None:
    """Make ``postgresql.conf`` include the per-start settings file (appended once)."""
    include = f"include = '{SETTINGS_FILE}'"
    conf = layout.data_dir / "postgresql.conf"
    if include in conf.read_text(encoding="utf-8").splitlines():
        return
    with conf.open("a", encoding="utf-8") as handle:
        handle.write(f"\n# Added by devstack: per-start settings.\n{include}\n")


def start_postgres(
    state_dir: Path,
    port: int,
    superuser_password: str,
    app_password: str,
    *,
    reinitialise: bool = False,
    timeout: float = START_TIMEOUT_S,
) -> int:
    """Initialise (if needed) and start the cluster, then create role and database ``abauto``.

    Any server already running from this data directory is stopped first.  With
    ``reinitialise`` the cluster is re-created, e.g. when its superuser password is unknown.
    Returns the postmaster PID.
    """
    layout = postgres_layout(state_dir)
    bin_dir = find_bin_dir()
    if read_postmaster(layout) is not None:
        stop_postgres(state_dir)
    _remove_stale_pid_file(layout)
    initialise(layout, bin_dir, superuser_password, wipe=reinitialise)
    write_settings(layout, port)
    _pg_ctl_start(layout, bin_dir, timeout)
    secrets = (superuser_password, app_password)
    deadline = time.monotonic() + timeout
    _bootstrap_database(layout, bin_dir, port, superuser_password, app_password, deadline)
    postmaster = read_postmaster(layout)
    if postmaster is None:
        raise _failure("PostgreSQL exited right after starting", layout, secrets)
    log.info("PostgreSQL ready (pid %d) on %s:%d", postmaster.pid, HOST, port)
    return postmaster.pid


def _pg_ctl_start(layout: PostgresLayout, bin_dir: Path, timeout: float) -> None:
    command = [
        str(bin_dir / "pg_ctl"),
        "start",
        f"--pgdata={layout.data_dir}",
        f"--log={layout.log_file}",
        "--wait",
        f"--timeout={int(timeout)}",
        "--silent",
    ]
    _run(
        _as_service_user(layout, command),
        "PostgreSQL did not start",
        cwd=layout.base_dir,
        layout=layout,
        timeout=timeout + 30,
    )


def _bootstrap_sql(app_password: str) -> str:
    role, database = APP_ROLE, APP_DATABASE
    password = app_password.replace("'", "''")
    # Identifiers are module constants and the password literal is quote-escaped.
    return f"""
SET log_min_error_statement = panic;
SET log_statement = none;
DO $devstack$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
    CREATE ROLE {role} LOGIN CREATEROLE PASSWORD '{password}';
  ELSE
    ALTER ROLE {role} LOGIN CREATEROLE PASSWORD '{password}';
  END IF;
END
$devstack$;
SELECT 'CREATE DATABASE {database} OWNER {role}'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{database}')\\gexec
"""  # noqa: S608


def _bootstrap_database(
    layout: PostgresLayout,
    bin_dir: Path,
    port: int,
    superuser_password: str,
    app_password: str,
    deadline: float,
) -> None:
    """Connect over TCP as the superuser and create role/database ``abauto`` idempotently."""
    command = [
        str(bin_dir / "psql"),
        "--no-psqlrc",
        "--quiet",
        "--no-password",
        "--set=ON_ERROR_STOP=1",
        f"--host={HOST}",
        f"--port={port}",
        f"--username={SUPERUSER}",
        "--dbname=postgres",
    ]
    env = {**os.environ, "PGPASSWORD": superuser_password, "PGCONNECT_TIMEOUT": "5"}
    while True:
        try:
            _run(
                command,
                "creating role/database abauto failed",
                cwd=layout.base_dir,
                layout=layout,
                input_text=_bootstrap_sql(app_password),
                env=env,
                secrets=(superuser_password, app_password),
            )
            return
        except PostgresError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def stop_postgres(state_dir: Path, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the cluster with ``pg_ctl stop -m fast`` (then ``-m immediate``) if it runs."""
    layout = postgres_layout(state_dir)
    postmaster = read_postmaster(layout)
    if postmaster is None:
        return
    log.info("stopping PostgreSQL (pid %d)", postmaster.pid)
    bin_dir = find_bin_dir()
    try:
        _pg_ctl_stop(layout, bin_dir, "fast", timeout)
    except PostgresError:
        log.warning("fast shutdown of PostgreSQL failed; trying immediate shutdown")
        _pg_ctl_stop(layout, bin_dir, "immediate", timeout)


def _pg_ctl_stop(layout: PostgresLayout, bin_dir: Path, mode: str, timeout: float) -> None:
    command = [
        str(bin_dir / "pg_ctl"),
        "stop",
        f"--pgdata={layout.data_dir}",
        f"--mode={mode}",
        "--wait",
        f"--timeout={int(timeout)}",
        "--silent",
    ]
    _run(
        _as_service_user(layout, command),
        f"pg_ctl stop -m {mode} failed",
        cwd=layout.base_dir,
        layout=layout,
        timeout=timeout + 30,
    )
