"""The polite HTTP layer against a real loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from shared.http import (
    HttpError,
    HttpSettings,
    HttpStatusError,
    HttpUnavailableError,
    PoliteHttp,
    redact,
    retry_after_seconds,
)
from shared.metrics import host_of

FAST = HttpSettings(rate_per_second=1000, backoff_s=0.01, max_attempts=3, timeout_s=5)


class Script:
    """A server answering each request with the next scripted (status, headers, body)."""

    def __init__(self, *answers: tuple[int, dict[str, str], str]) -> None:
        self.answers = list(answers)
        self.seen: list[web.Request] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(request)
        status, headers, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return web.Response(status=status, headers=headers, text=body)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Script], Any]]:
    runners: list[web.AppRunner] = []

    async def start(script: Script) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", script.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def test_429_is_retried_after_the_pause_the_server_asks_for(serve: Any) -> None:
    script = Script((429, {"Retry-After": "0"}, "slow down"), (200, {}, '{"ok": true}'))
    base = await serve(script)
    async with PoliteHttp(FAST) as http:
        assert await http.get_json(f"{base}/x") == {"ok": True}
    assert len(script.seen) == 2
    assert script.seen[0].headers["User-Agent"].startswith("abauto/")


async def test_a_server_that_keeps_failing_raises_with_the_status(serve: Any) -> None:
    script = Script((503, {}, "down"))
    base = await serve(script)
    async with PoliteHttp(FAST) as http:
        with pytest.raises(HttpStatusError) as caught:
            await http.get_bytes(f"{base}/x", params={"apikey": "hunter2"})
    assert caught.value.status == 503
    assert len(script.seen) == FAST.max_attempts
    assert "hunter2" not in str(caught.value)


async def test_a_client_error_is_not_retried(serve: Any) -> None:
    script = Script((404, {}, "no such thing"))
    base = await serve(script)
    async with PoliteHttp(FAST) as http:
        with pytest.raises(HttpStatusError, match="404"):
            await http.get_text(f"{base}/x")
    assert len(script.seen) == 1


async def test_cached_answers_are_not_fetched_again(serve: Any) -> None:
    script = Script((200, {}, "[1, 2]"))
    base = await serve(script)
    async with PoliteHttp(FAST) as http:
        for _ in range(3):
            assert await http.get_json(f"{base}/series", cache_ttl=60) == [1, 2]
        await http.get_json(f"{base}/series")  # no cache asked: fetched
    assert len(script.seen) == 2


async def test_an_unreachable_host_raises_unavailable() -> None:
    async with PoliteHttp(FAST) as http:
        with pytest.raises(HttpUnavailableError):
            await http.get_bytes("http://127.0.0.1:9/nothing?token=s3cret")


async def test_post_json_sends_the_body(serve: Any) -> None:
    script = Script((200, {}, '{"libraryItems": []}'))
    base = await serve(script)
    async with PoliteHttp(FAST) as http:
        assert await http.post_json(f"{base}/b", {"ids": [1]}) == {"libraryItems": []}
    assert script.seen[0].method == "POST"


def test_secrets_in_urls_are_redacted() -> None:
    shown = redact("http://idx/api?t=search&apikey=abc123&q=dune&jackett_apikey=j4ck")
    assert "abc123" not in shown
    assert "j4ck" not in shown
    assert "q=dune" in shown


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0


async def test_a_broken_answer_is_not_served_from_the_cache(serve: Any) -> None:
    script = Script((200, {}, "<html>oops</html>"), (200, {}, "[1]"))
    base = await serve(script)
    async with PoliteHttp(FAST) as http:
        with pytest.raises(HttpError, match="not JSON"):
            await http.get_json(f"{base}/series", cache_ttl=60)
        assert await http.get_json(f"{base}/series", cache_ttl=60) == [1]


def _requests(host: str, outcome: str) -> float:
    labels = {"host": host, "method": "GET", "outcome": outcome}
    return REGISTRY.get_sample_value("abauto_external_request_duration_seconds_count", labels) or 0


def _errors(host: str, kind: str) -> float:
    labels = {"host": host, "kind": kind}
    return REGISTRY.get_sample_value("abauto_external_request_errors_total", labels) or 0


async def test_each_request_is_timed_by_host_and_a_failed_one_counted_by_kind(
    serve: Any,
) -> None:
    script = Script((503, {}, "busy"), (200, {}, "[1]"))
    base = await serve(script)
    host = host_of(base)  # a port used before in this process may have counts already

    def counts() -> tuple[float, ...]:
        return (
            _requests(host, "error"),
            _requests(host, "ok"),
            _errors(host, "status_5xx"),
            _errors(host, "status_4xx"),
        )

    before = counts()
    async with PoliteHttp(FAST) as http:
        for _ in range(2):  # the second answer comes from the cache: no request
            assert await http.get_json(f"{base}/series", cache_ttl=60) == [1]
    assert [a - b for a, b in zip(counts(), before, strict=True)] == [1, 1, 1, 0]


async def test_an_unreachable_host_is_counted_as_a_connection_error_per_attempt() -> None:
    before = _errors("127.0.0.1:9", "connection")
    async with PoliteHttp(FAST) as http:
        with pytest.raises(HttpUnavailableError):
            await http.get_bytes("http://127.0.0.1:9/nothing")
    assert _errors("127.0.0.1:9", "connection") - before == FAST.max_attempts


async def test_a_server_that_does_not_answer_in_time_is_counted_as_a_timeout(
    serve: Any,
) -> None:
    release = asyncio.Event()

    class Silent(Script):
        async def handle(self, request: web.Request) -> web.Response:
            await release.wait()  # answers only once the client gave up
            return web.Response()

    base = await serve(Silent((200, {}, "")))
    host = host_of(base)
    before = (_errors(host, "timeout"), _requests(host, "error"))
    patience = HttpSettings(rate_per_second=1000, max_attempts=1, timeout_s=0.2)
    try:
        async with PoliteHttp(patience) as http:
            with pytest.raises(HttpUnavailableError):
                await http.get_bytes(f"{base}/slow")
    finally:
        release.set()
    after = (_errors(host, "timeout"), _requests(host, "error"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
