"""One start-up policy for every service (issue: "configuration errors hurt the user's
other systems"): a dependency that cannot be reached is waited for, with one line and
"not ready" meanwhile; one that refuses our credentials is reported once, asked nothing
more, and the service stays up, not ready. It never exits for either (an orchestrator
would restart it and retry the login on every restart) and never prints a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sandbox.audiobookshelf import FakeAudiobookshelf
from shared.clients.audiobookshelf import KeyUser, missing_rights
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RefusingServer:
    """Answers 401 to everything, as Audiobookshelf does to a wrong API key; counts."""

    def __init__(self) -> None:
        self.requests = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def refuse(request: web.Request) -> web.Response:
            self.requests += 1
            return web.Response(status=401, text="Unauthorized")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", refuse)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def refusing() -> AsyncIterator[RefusingServer]:
    server = RefusingServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def _readyz(port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/readyz") as answer,
        ):
            return answer.status, await answer.json()
    except aiohttp.ClientError:
        return None


async def _importer(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.importer", cwd=ROOT, env=env,
            stdout=output, stderr=asyncio.subprocess.STDOUT, stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip


def _environment(
    tmp_path: Path, kafka: str, database: str, abs_url: str, port: int
) -> dict[str, str]:
    (tmp_path / "library").mkdir(exist_ok=True)
    (tmp_path / "downloads").mkdir(exist_ok=True)
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database,
        "ABAUTO_ABS_URL": abs_url,
        "ABAUTO_ABS_API_KEY": "a-key-without-rights",
        "ABAUTO_LIBRARY_ROOT": str(tmp_path / "library"),
        "ABAUTO_DOWNLOAD_ROOTS": str(tmp_path / "downloads"),
        "ABAUTO_HEALTH_PORT": str(port),
    }


async def _not_ready_because(port: int, kind: str, dependency: str) -> bool:
    answer = await _readyz(port)
    return answer is not None and answer[0] == 503 and dependency in answer[1].get(kind, {})


async def _stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), 30)


async def test_kafka_unreachable_is_waited_for_not_a_traceback(
    stack: Any, tmp_path: Path, refusing: RefusingServer
) -> None:
    port, log = _free_port(), tmp_path / "importer.log"
    closed = f"127.0.0.1:{_free_port()}"
    env = _environment(tmp_path, closed, stack.database_url, refusing.url, port)
    process = await _importer(env, log)
    await wait_until(
        lambda: _not_ready_because(port, "unavailable", "Kafka"), within=30, what="not ready"
    )
    await asyncio.sleep(3)  # let it try again a few times: it must still be up, and quiet
    assert process.returncode is None
    assert await _stop(process) == 0
    text = log.read_text()
    assert "Traceback" not in text
    assert text.count("Kafka is unavailable, waiting for it") == 1


async def test_a_refused_api_key_is_reported_once_and_never_retried(
    stack: Any, tmp_path: Path, refusing: RefusingServer
) -> None:
    port, log = _free_port(), tmp_path / "importer.log"
    env = _environment(tmp_path, stack.kafka_bootstrap, stack.database_url, refusing.url, port)
    process = await _importer(env, log)
    await wait_until(
        lambda: _not_ready_because(port, "refused", "Audiobookshelf"), within=60, what="refused"
    )
    await asyncio.sleep(3)  # time in which a retrying service would have asked again
    assert process.returncode is None  # up: an orchestrator would restart an exited one
    assert refusing.requests == 1
    assert await _stop(process) == 0
    text = log.read_text()
    assert "Traceback" not in text
    assert "a-key-without-rights" not in text
    assert text.count("refused the configured credentials") == 1


async def test_a_key_whose_user_cannot_scan_makes_the_importer_not_ready(
    stack: Any, tmp_path: Path
) -> None:
    """A plain user's key sees the library but its scans get 403: every import would
    fail. The importer says so once at start-up and stays not ready."""
    library = tmp_path / "library"
    library.mkdir()
    async with FakeAudiobookshelf(library, "a-key-without-rights") as server:
        server.user = {**server.user, "username": "listener", "type": "user",
                       "permissions": {"accessExplicitContent": False}}  # fmt: skip
        port, log = _free_port(), tmp_path / "importer.log"
        env = _environment(
            tmp_path, stack.kafka_bootstrap, stack.database_url, server.base_url, port
        )
        process = await _importer(env, log)
        await wait_until(
            lambda: _not_ready_because(port, "refused", "Audiobookshelf"), within=60, what="refused"
        )
        answer = await _readyz(port)
        assert answer is not None
        assert "not an admin" in answer[1]["refused"]["Audiobookshelf"]
        assert process.returncode is None
        assert await _stop(process) == 0
    text = log.read_text()
    assert text.count("not an admin") == 1
    assert "legacy-token-never-to-be-kept" not in text


def test_what_a_key_lacks_is_said_in_words() -> None:
    plain = KeyUser("listener", "user", True, False, False, ("lib-a",))
    assert missing_rights(plain, admin=False, explicit=False, libraries=("lib-a",)) == []
    lacks = missing_rights(plain, admin=True, explicit=True, libraries=("lib-a", "lib-b"))
    assert len(lacks) == 3
    assert "not an admin" in lacks[0]
    assert "explicit" in lacks[1]
    assert "lib-b" in lacks[2]
    inactive = KeyUser("root", "root", False, True, True, ())
    assert missing_rights(inactive, admin=True, explicit=True) == ["its user 'root' is not active"]
