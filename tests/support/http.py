"""A polite HTTP client for tests: the real `PoliteHttp`, without the waiting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from shared.http import HttpSettings, PoliteHttp

FAST = HttpSettings(rate_per_second=1000, backoff_s=0.01, max_attempts=3, timeout_s=10)


@asynccontextmanager
async def fast_http() -> AsyncIterator[PoliteHttp]:
    """Retries and rate limits as in production, with delays shrunk to milliseconds."""
    async with PoliteHttp(FAST) as http:
        yield http
