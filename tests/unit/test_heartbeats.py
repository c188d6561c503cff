"""Every service process sends heartbeats with its readiness, whatever Kafka does."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError

from shared import events as ev
from shared.conditions import Conditions
from shared.health import Readiness, readiness
from shared.heartbeat import Identity, send_heartbeats
from tests.support.fakes import FakePublisher
from tests.support.waiting import wait_until

INTERVAL_S = 0.01
NOT_READY = Readiness(
    False, {"kafka": True, "database": False}, {"PostgreSQL": "connection refused"}, {}
)


async def _not_ready() -> Readiness:
    return NOT_READY


async def _beating(publisher: Any, *, until: int) -> list[ev.HeartbeatSent]:
    """Run the heartbeats until `publisher` holds `until` of them, then stop them."""
    stop = asyncio.Event()
    identity = Identity.of_this_process("downloader")
    task = asyncio.create_task(send_heartbeats(identity, INTERVAL_S, publisher, _not_ready, stop))
    await wait_until(lambda: len(publisher.events) >= until, within=10, what="heartbeats")
    stop.set()
    await asyncio.wait_for(task, 5)
    beats: list[ev.HeartbeatSent] = publisher.events
    return beats


async def test_a_process_says_who_it_is_and_why_it_is_not_ready() -> None:
    beats = await _beating(FakePublisher(), until=3)
    assert {type(b) for b in beats} == {ev.HeartbeatSent}
    first = beats[0].payload
    instance = f"{socket.gethostname()}:{os.getpid()}"
    assert (first.service, first.instance_id, first.pid) == ("downloader", instance, os.getpid())
    assert beats[0].key == f"instance:{instance}"
    assert first.version == "0.1.0"  # the installed abauto's
    assert (first.ready, first.checks, first.unavailable) == (
        False, {"kafka": True, "database": False}, {"PostgreSQL": "connection refused"},
    )  # fmt: skip
    assert first.interval_seconds == INTERVAL_S
    # One process, one start: every heartbeat says the same, only later.
    assert {b.payload.started_at for b in beats} == {first.started_at}
    assert [b.occurred_at for b in beats] == sorted(b.occurred_at for b in beats)


async def test_a_clean_stop_ends_with_a_heartbeat_that_says_so() -> None:
    beats = await _beating(FakePublisher(), until=2)
    assert [b.payload.stopping for b in beats] == [False] * (len(beats) - 1) + [True]


class KafkaAwayThenBack(FakePublisher):
    """The first publish hangs (Kafka slow), the second fails (away), then they pass."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    async def publish(self, event: ev.Event[Any], /) -> object:
        self.attempts += 1
        if self.attempts == 1:
            await asyncio.Event().wait()  # never acknowledged
        if self.attempts == 2:
            raise KafkaConnectionError("Kafka is away")
        return await super().publish(event)


async def test_kafka_away_skips_heartbeats_with_one_line_and_never_stops_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    publisher = KafkaAwayThenBack()
    with caplog.at_level(logging.INFO, logger="shared.heartbeat"):
        beats = await _beating(publisher, until=2)
    assert publisher.attempts >= 4
    assert len(beats) >= 2
    said = [r.getMessage().split(":")[0] for r in caplog.records if r.name == "shared.heartbeat"]
    assert said == [
        "heartbeats are not getting through, Kafka is away",
        "heartbeats are getting through again",
    ]


async def test_readiness_is_what_readyz_answers() -> None:
    async def passes() -> bool:
        return True

    async def fails() -> bool:
        return False

    conditions = Conditions()
    now = await readiness({"kafka": passes, "database": passes}, conditions)
    assert now == Readiness(True, {"kafka": True, "database": True}, {}, {})
    conditions.set_refused("qBittorrent", "403 Forbidden")
    now = await readiness({"kafka": passes, "database": fails}, conditions)
    assert now == Readiness(
        False, {"kafka": True, "database": False}, {}, {"qBittorrent": "403 Forbidden"}
    )
