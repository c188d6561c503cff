"""During a broker outage a service logs a few lines and a count, not a flood."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Iterator

import pytest
from aiokafka.errors import KafkaError

from shared.log_floods import DEFAULT_LIMIT
from shared.logs import configure_logging
from shared.messaging import EventProducer
from shared.settings import KafkaSettings
from tests.conftest import Stack
from tests.support.kafka_outage import broker_gone

pytestmark = pytest.mark.integration

OUTAGE_S = 3.0


@pytest.fixture
def restored_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield root
    root.handlers[:], level = saved
    root.setLevel(level)


async def _producer_through_an_outage(bootstrap: str) -> None:
    """A service's producer trying to reach its broker for OUTAGE_S seconds."""
    producer = EventProducer(KafkaSettings(kafka_bootstrap_servers=bootstrap), "outage")
    try:
        await asyncio.wait_for(producer.start(), OUTAGE_S)
        await asyncio.wait_for(producer.send_raw("library.v1", b"{}", key=None, headers=[]), 3)
    except (TimeoutError, KafkaError):
        pass  # the outage: what matters here is what was logged meanwhile
    finally:
        await producer.stop()


async def test_a_broker_outage_logs_a_few_lines_per_message_and_then_how_many_were_held_back(
    stack: Stack, restored_root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("downloader")
    async with broker_gone(stack.kafka_bootstrap) as bootstrap:
        await _producer_through_an_outage(bootstrap)
    restored_root.handlers[0].close()  # what logging.shutdown does at exit
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summaries = [line for line in lines if "suppressed_lines" in line]
    shown = Counter(
        (line["logger"], line["message"][:20]) for line in lines if line not in summaries
    )
    assert summaries, "no flood was produced: the outage was not simulated"
    assert sum(s["suppressed_lines"] for s in summaries) >= 20
    assert max(shown.values()) <= DEFAULT_LIMIT
    assert len(lines) <= 4 * (DEFAULT_LIMIT + 1)
