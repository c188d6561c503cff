"""Real `qbittorrent-nox` instances on loopback, for the tests and the demo.

Each instance gets a profile directory, a Web UI port and a BitTorrent port of its own,
and a configuration written before its first start: legal notice accepted, loopback
only, no DHT/LSD/PeX/UPnP (peers come from the tracker named in each torrent), queueing
off, a PBKDF2-hashed Web UI password. `stop_all` cleans up after a crashed run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from devstack.logfiles import tail
from devstack.processes import terminate
from devstack.stack import choose_ports

log = logging.getLogger("devstack.qbittorrent")

HOST = "127.0.0.1"
BINARY = "qbittorrent-nox"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
USERNAME = "admin"


_RUNNING: dict[int, subprocess.Popen[bytes]] = {}
"""Instances this process started, by pid (kept so they are waited for, never leaked)."""


class QbittorrentStartError(RuntimeError):
    """qbittorrent-nox could not be started."""


@dataclass(frozen=True)
class QbitInstance:
    """A running qbittorrent-nox."""

    name: str
    webui_port: int
    bt_port: int
    username: str
    password: SecretStr
    profile_dir: Path
    downloads_dir: Path
    pid: int

    @property
    def webui_url(self) -> str:
        """Base URL of its Web UI."""
        return f"http://{HOST}:{self.webui_port}"


def password_hash(password: str, salt: bytes | None = None) -> str:
    """qBittorrent's `WebUI\\Password_PBKDF2` value for `password`."""
    salt = salt or secrets.token_bytes(16)
    key = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 100_000, dklen=64)
    return f"@ByteArray({base64.b64encode(salt).decode()}:{base64.b64encode(key).decode()})"


def configuration(webui_port: int, bt_port: int, downloads: Path, password: str) -> str:
    """The qBittorrent.conf of an instance that needs no prompt and stays on loopback."""
    return "\n".join(
        [
            "[LegalNotice]",
            "Accepted=true",
            "[BitTorrent]",
            f"Session\\Port={bt_port}",
            "Session\\Interface=lo",
            "Session\\InterfaceName=lo",
            f"Session\\InterfaceAddress={HOST}",
            "Session\\DHTEnabled=false",
            "Session\\LSDEnabled=false",
            "Session\\PeXEnabled=false",
            "Session\\QueueingSystemEnabled=false",
            f"Session\\DefaultSavePath={downloads}",
            "[Network]",
            "PortForwardingEnabled=false",
            "[Preferences]",
            "Connection\\ResolvePeerCountries=false",  # else it fetches a GeoIP database online
            f"Downloads\\SavePath={downloads}",
            f"WebUI\\Address={HOST}",
            f"WebUI\\Port={webui_port}",
            "WebUI\\UseUPnP=false",
            "WebUI\\LocalHostAuth=true",
            "WebUI\\CSRFProtection=false",
            f"WebUI\\Username={USERNAME}",
            f'WebUI\\Password_PBKDF2="{password_hash(password)}"',
            "",
        ]
    )


def start_qbittorrent(
    state_dir: Path,
    name: str,
    password: str | None = None,
    ports: tuple[int, int] | None = None,
) -> QbitInstance:
    """Start instance `name` under `state_dir`; return once its Web UI answers.
    `ports` (Web UI, BitTorrent) restart an instance where it was."""
    password = password or secrets.token_urlsafe(16)
    home = state_dir / name
    profile, downloads = home / "profile", home / "downloads"
    config = profile / "qBittorrent" / "config"
    config.mkdir(parents=True, exist_ok=True)
    downloads.mkdir(parents=True, exist_ok=True)
    webui_port, bt_port = ports or choose_ports([None, None])
    (config / "qBittorrent.conf").write_text(
        configuration(webui_port, bt_port, downloads, password)
    )
    logfile = home / "qbittorrent.log"
    with logfile.open("ab") as output:
        process = subprocess.Popen(
            [BINARY, f"--profile={profile}", f"--webui-port={webui_port}"],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    _RUNNING[process.pid] = process
    instance = QbitInstance(
        name, webui_port, bt_port, USERNAME, SecretStr(password), profile, downloads, process.pid
    )
    (home / "instance.json").write_text(json.dumps({"pid": process.pid, "port": webui_port}))
    _wait_until_answering(instance, process, logfile)
    log.info("qbittorrent %s: web ui %s, bittorrent port %d", name, instance.webui_url, bt_port)
    return instance


def _wait_until_answering(
    instance: QbitInstance, process: subprocess.Popen[bytes], logfile: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise QbittorrentStartError(
                f"qbittorrent-nox exited ({process.returncode}):\n{tail(logfile)}"
            )
        try:
            with urllib.request.urlopen(f"{instance.webui_url}/api/v2/app/version", timeout=1):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return  # it answers (403 before login): up
        except OSError:
            time.sleep(0.1)  # polling a starting process, bounded by the deadline
    process.kill()
    process.wait()
    raise QbittorrentStartError(
        f"qbittorrent-nox did not answer in {START_TIMEOUT_S}s:\n{tail(logfile)}"
    )


def restart_qbittorrent(instance: QbitInstance, state_dir: Path) -> QbitInstance:
    """Start a stopped instance again: same profile, ports and password."""
    return start_qbittorrent(
        state_dir,
        instance.name,
        instance.password.get_secret_value(),
        (instance.webui_port, instance.bt_port),
    )


def stop_qbittorrent(instance: QbitInstance, timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, wait, SIGKILL if needed. Idempotent."""
    _stop_pid(instance.pid, timeout)


def stop_all(state_dir: Path) -> None:
    """Stop every instance started under `state_dir` (after a crashed run)."""
    for record in state_dir.glob("*/instance.json"):
        _stop_pid(int(json.loads(record.read_text())["pid"]), STOP_TIMEOUT_S)


def _stop_pid(pid: int, timeout: float) -> None:
    process = _RUNNING.pop(pid, None)
    if process is not None:
        terminate(process, timeout)
        return
    if not _is_qbittorrent(pid):  # started by a run that crashed: not our child
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _is_qbittorrent(pid):
        time.sleep(0.05)  # waiting for a process to exit, bounded by the deadline
    if _is_qbittorrent(pid):
        os.kill(pid, signal.SIGKILL)


def _is_qbittorrent(pid: int) -> bool:
    try:
        return BINARY in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
