"""Waiting for what a service needs before it works: Kafka, PostgreSQL, Audiobookshelf,
qBittorrent. One policy for every service and every dependency (see `shared.faults`):

- unreachable or busy → wait and try again with backoff, one log line when it starts and
  one when it ends, "not ready" meanwhile;
- credentials refused → one clear line, "not ready", and no further attempt until the
  service is reconfigured (a wrong password retried gets the address banned);
- anything else is a bug and is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from shared.conditions import Conditions
from shared.faults import is_refused, is_transient

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0


async def wait_for(
    dependency: str,
    check: Callable[[], Awaitable[object]],
    *,
    stop: asyncio.Event,
    conditions: Conditions,
    max_backoff_s: float = MAX_BACKOFF_S,
) -> bool:
    """Run `check` until it succeeds; True then. False if the stop came first, or if the
    credentials were refused (after waiting for the stop: nothing more is tried)."""
    backoff = FIRST_BACKOFF_S
    while not stop.is_set():
        try:
            await check()
        except Exception as error:
            if is_refused(error):
                conditions.set_refused(dependency, str(error)[:300])
                await stop.wait()
                return False
            if not is_transient(error):
                raise
            conditions.set_away(dependency, str(error)[:300] or type(error).__name__)
        else:
            conditions.clear(dependency)
            return True
        with contextlib.suppress(TimeoutError):  # the backoff, cut short by a stop
            await asyncio.wait_for(stop.wait(), backoff)
        backoff = min(backoff * 2, max_backoff_s)
    return False
