"""The discovery schedule with an in-memory run: a run that failed because something was
away is tried again soon, not after the whole interval; a refused key stops the tries."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from services.discovery.service import _scheduled
from services.discovery.settings import DiscoverySettings
from shared.clients.audiobookshelf import AudiobookshelfAuthError
from shared.conditions import Conditions
from shared.http import HttpUnavailableError
from tests.support.waiting import wait_until


class ScriptedRuns:
    """Each run raises the next scripted error, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.runs = 0

    async def run(self) -> None:
        self.runs += 1
        if self.errors:
            raise self.errors.pop(0)


def _settings() -> DiscoverySettings:
    return DiscoverySettings(
        kafka_bootstrap_servers="127.0.0.1:9",
        database_url="postgresql+asyncpg://u:p@127.0.0.1:9/db",
        abs_url="http://127.0.0.1:9",
        abs_api_key=SecretStr("k"),
        discovery_interval_hours=6,
        discovery_retry_seconds=0.01,
    )


async def test_a_run_that_failed_because_abs_was_away_is_retried_soon() -> None:
    away = HttpUnavailableError("GET http://abs/api/libraries: ClientConnectorError")
    runs, stop, conditions = ScriptedRuns(away, away), asyncio.Event(), Conditions()
    schedule = asyncio.create_task(_scheduled(runs, _settings(), stop, conditions))  # type: ignore[arg-type]
    await wait_until(lambda: runs.runs == 3, what="two retries, well before six hours")
    assert conditions.ready
    stop.set()
    await schedule


async def test_a_refused_key_is_reported_and_not_retried() -> None:
    refused = AudiobookshelfAuthError("Audiobookshelf refused the API key")
    runs, stop, conditions = ScriptedRuns(refused), asyncio.Event(), Conditions()
    await asyncio.wait_for(_scheduled(runs, _settings(), stop, conditions), 5)  # type: ignore[arg-type]
    assert runs.runs == 1
    assert not conditions.ready
    assert conditions.refused
