"""The one way services talk HTTP to the outside world, politely.

Per host: a rate limit (token bucket) and a cap on concurrent requests. Every request
has a timeout and a descriptive User-Agent. 429 and 5xx answers and connection failures
are retried with exponential backoff, honouring `Retry-After`; other error statuses raise
at once. GET answers can be cached for a while (catalogue data changes rarely).

Secrets travel in headers or query parameters; whatever this module logs or raises names
the URL with secret-looking parameters redacted.

Every request (each retry too) is timed and counted per host (`shared.metrics`); the
wait for the host's rate limit is not part of its time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
import orjson
from aiolimiter import AsyncLimiter
from pydantic import BaseModel, ConfigDict, Field

from shared import metrics
from shared.faults import Unavailable

logger = logging.getLogger(__name__)

SECRET_PARAMS = ("apikey", "api_key", "token", "key", "passkey", "password", "secret")
"""Query parameters whose values never appear in a log line or an exception: these names,
and any name ending in one of them (Jackett's `jackett_apikey`, `access_token`, …)."""

MAX_RETRY_AFTER_S = 120.0
"""A server asking for a longer pause than this gets the request failed instead."""


class HttpSettings(BaseModel):
    """How politely to treat one host."""

    model_config = ConfigDict(frozen=True)

    rate_per_second: float = Field(default=5.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1)
    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1)
    backoff_s: float = Field(default=0.5, ge=0)
    user_agent: str = "abauto/0.1 (self-hosted audiobook automation)"


class HttpError(Exception):
    """A request that did not give a usable answer."""


class HttpStatusError(HttpError):
    """The server answered with an error status."""

    def __init__(self, status: int, url: str, body: str) -> None:
        super().__init__(f"HTTP {status} from {url}: {body[:200]}")
        self.status = status
        self.url = url
        self.body = body[:2000]


class HttpUnavailableError(HttpError, Unavailable):
    """The server could not be reached, or kept failing until the attempts ran out:
    transient (see `shared.faults`)."""


class HttpBusyError(HttpStatusError, HttpUnavailableError):
    """The server kept answering 429 or 5xx: busy or broken for now, not refusing."""


def redact(url: str) -> str:
    """`url` with the values of secret-looking query parameters replaced by `***`."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (name, "***" if _secret(name) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe="*")))


def _secret(name: str) -> bool:
    lowered = name.lower()
    return any(lowered.endswith(word) for word in SECRET_PARAMS)


def _with_params(url: str, params: Mapping[str, str] | None) -> str:
    if not params:
        return url
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params)}"


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: either a number or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass
class _Host:
    name: str
    """`host:port`, as the metrics name it."""
    limiter: AsyncLimiter
    slots: asyncio.Semaphore


@dataclass(frozen=True)
class Reply:
    """A successful answer with what a caller keeping a session needs: the cookies the
    server set (name to value)."""

    status: int
    body: bytes
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    retry_after: float | None
    cookies: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Cache:
    entries: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    max_entries: int = 10_000

    def get(self, key: str) -> bytes | None:
        found = self.entries.get(key)
        if found is None or found[0] < time.monotonic():
            self.entries.pop(key, None)
            return None
        return found[1]

    def put(self, key: str, body: bytes, ttl: float) -> None:
        if len(self.entries) >= self.max_entries:
            self.entries.pop(next(iter(self.entries)))  # the oldest insertion
        self.entries[key] = (time.monotonic() + ttl, body)


class PoliteHttp:
    """An aiohttp session with per-host politeness, retries and a GET cache."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        per_host: Mapping[str, HttpSettings] | None = None,
    ) -> None:
        self._default = settings or HttpSettings()
        self._per_host = dict(per_host or {})
        self._hosts: dict[str, _Host] = {}
        self._cache = _Cache()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PoliteHttp:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the underlying session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        cache_ttl: float | None = None,
    ) -> Any:
        """GET and decode JSON; a body that is not JSON raises `HttpError` (and is not
        kept in the cache: a broken answer must not outlive the request that got it)."""
        body = await self.get_bytes(url, params=params, headers=headers, cache_ttl=cache_ttl)
        try:
            return _json(body, _with_params(url, params))
        except HttpError:
            self.forget(url, params=params)
            raise

    def forget(self, url: str, *, params: Mapping[str, str] | None = None) -> None:
        """Drop a cached answer (a caller found it unusable)."""
        self._cache.entries.pop(_with_params(url, params), None)

    async def post_json(
        self, url: str, payload: Any, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        """POST a JSON body and decode the JSON answer."""
        answer = await self._request("POST", url, headers, orjson.dumps(payload))
        return _json(answer.body, url)

    async def patch_json(
        self, url: str, payload: Any, *, headers: Mapping[str, str] | None = None
    ) -> Any:
        """PATCH a JSON body and decode the JSON answer."""
        answer = await self._request("PATCH", url, headers, orjson.dumps(payload))
        return _json(answer.body, url)

    async def get_text(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        cache_ttl: float | None = None,
    ) -> str:
        """GET and decode the body as UTF-8 text."""
        body = await self.get_bytes(url, params=params, headers=headers, cache_ttl=cache_ttl)
        return body.decode("utf-8", errors="replace")

    async def get_bytes(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        cache_ttl: float | None = None,
    ) -> bytes:
        """GET the raw body, from the cache when allowed and fresh."""
        full = _with_params(url, params)
        if cache_ttl is not None and (cached := self._cache.get(full)) is not None:
            return cached
        answer = await self._request("GET", full, headers, None)
        if cache_ttl is not None:
            self._cache.put(full, answer.body, cache_ttl)
        return answer.body

    async def post(
        self, url: str, *, headers: Mapping[str, str] | None = None, payload: Any = None
    ) -> int:
        """POST a command (with a JSON body, if any) whose answer is only its status."""
        body = None if payload is None else orjson.dumps(payload)
        return (await self._request("POST", url, headers, body)).status

    async def exchange(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        payload: Any = None,
    ) -> Reply:
        """Send a request (a JSON body, if any) and return the raw answer with the cookies
        it set: for a session whose cookie the server rotates. Error statuses raise as
        everywhere else."""
        body = None if payload is None else orjson.dumps(payload)
        answer = await self._request(method, url, headers, body)
        return Reply(answer.status, answer.body, answer.cookies)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> _Answer:
        settings = self._settings_for(url)
        shown = redact(url)
        for attempt in range(1, settings.max_attempts + 1):
            try:
                answer = await self._once(method, url, headers, body, settings)
            except (aiohttp.ClientError, TimeoutError) as error:
                if attempt == settings.max_attempts:
                    raise HttpUnavailableError(
                        f"{method} {shown}: {type(error).__name__}"
                    ) from None
                delay = settings.backoff_s * 2 ** (attempt - 1)
            else:
                if answer.status < 400:
                    return answer
                if not _retryable(answer.status) or attempt == settings.max_attempts:
                    text = answer.body.decode("utf-8", errors="replace")
                    busy = _retryable(answer.status)
                    raise (HttpBusyError if busy else HttpStatusError)(answer.status, shown, text)
                delay = answer.retry_after
                if delay is None:
                    delay = settings.backoff_s * 2 ** (attempt - 1)
                if delay > MAX_RETRY_AFTER_S:
                    raise HttpBusyError(answer.status, shown, f"retry after {delay:.0f}s")
            logger.warning(
                "%s %s: retrying in %.1fs (attempt %d)",
                method,
                shown,
                delay,
                attempt,
                extra={
                    "event": "http.retrying",
                    "method": method,
                    "url": shown,
                    "delay_s": round(delay, 1),
                    "attempt": attempt,
                },
            )
            await asyncio.sleep(delay)  # backoff between attempts, not synchronisation
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        settings: HttpSettings,
    ) -> _Answer:
        host = self._host(url, settings)
        sent = {"User-Agent": settings.user_agent, **(headers or {})}
        if body is not None:
            sent.setdefault("Content-Type", "application/json")
        timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
        async with host.slots:
            await host.limiter.acquire()
            started = time.monotonic()
            try:
                async with self._client().request(
                    method, url, headers=sent, data=body, timeout=timeout, allow_redirects=True
                ) as response:
                    answer = _Answer(
                        response.status,
                        await response.read(),
                        retry_after_seconds(response.headers.get("Retry-After")),
                        {name: morsel.value for name, morsel in response.cookies.items()},
                    )
            except (aiohttp.ClientError, TimeoutError) as error:
                kind = "timeout" if isinstance(error, TimeoutError) else "connection"
                metrics.external_request(host.name, method, time.monotonic() - started, kind)
                raise
        failed = metrics.status_error(answer.status)
        metrics.external_request(host.name, method, time.monotonic() - started, failed)
        return answer

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            # No cookie jar: a session cookie is the caller's to keep and send (it may
            # rotate, and a stale jar copy must never override what the caller sends).
            self._session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    def _settings_for(self, url: str) -> HttpSettings:
        return self._per_host.get(urlsplit(url).netloc, self._default)

    def _host(self, url: str, settings: HttpSettings) -> _Host:
        name = urlsplit(url).netloc
        host = self._hosts.get(name)
        if host is None:
            # A bucket of one request: never a burst, `rate_per_second` at most.
            limiter = AsyncLimiter(1, 1 / settings.rate_per_second)
            slots = asyncio.Semaphore(settings.max_concurrency)
            host = self._hosts[name] = _Host(metrics.host_of(url), limiter, slots)
        return host


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _json(body: bytes, url: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise HttpError(f"not JSON from {redact(url)}: {body[:120]!r}") from None
