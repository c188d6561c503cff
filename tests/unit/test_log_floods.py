"""A flood of one repeated log line (a broker outage) is cut to a few lines and a summary."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from shared.log_floods import DEFAULT_LIMIT, RepeatFilter
from shared.logs import configure_logging


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def restored_root() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield root
    root.handlers[:], level = saved
    root.setLevel(level)


def _limited(clock: Clock, limit: int = 3) -> tuple[logging.Logger, io.StringIO]:
    """A private logger writing '<level> <message>' lines through a RepeatFilter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RepeatFilter(sink=handler.handle, limit=limit, window_s=10, clock=clock))
    logger = logging.getLogger(f"tests.floods.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, out


def test_repeats_of_one_template_beyond_the_limit_are_summarised_after_the_window() -> None:
    clock = Clock()
    logger, out = _limited(clock)
    for attempt in range(100):
        logger.error("Unable connect to node %d: %s", 1, f"refused #{attempt}")
    assert len(out.getvalue().splitlines()) == 3
    clock.now = 11
    logger.error("Unable connect to node %d: %s", 1, "refused again")
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[3].startswith("ERROR suppressed 97 similar lines (3 per 10 s are written)")
    assert "Unable connect to node %d: %s" in lines[3]
    assert lines[4] == "ERROR Unable connect to node 1: refused again"


def test_different_templates_and_loggers_are_counted_apart() -> None:
    clock = Clock()
    logger, out = _limited(clock)
    other, other_out = _limited(clock)
    for _ in range(3):
        logger.warning("first %s", "x")
        logger.warning("second %s", "y")
        other.warning("first %s", "x")
    assert len(out.getvalue().splitlines()) == 6
    assert len(other_out.getvalue().splitlines()) == 3


def test_no_summary_when_nothing_was_suppressed() -> None:
    clock = Clock()
    logger, out = _limited(clock)
    logger.warning("once")
    clock.now = 60
    logger.warning("later")
    assert out.getvalue().splitlines() == ["WARNING once", "WARNING later"]


def test_info_lines_about_work_done_are_never_held_back() -> None:
    clock = Clock()
    logger, out = _limited(clock)
    for book in range(20):
        logger.info("imported %s", f"book {book}")
    assert len(out.getvalue().splitlines()) == 20


def test_service_logging_summarises_a_flood_when_it_closes(
    restored_root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("downloader")
    logger = logging.getLogger("aiokafka.conn")
    for attempt in range(50):
        logger.error("Unable connect to %r: %s", "127.0.0.1:9", f"[Errno 111] #{attempt}")
    restored_root.handlers[0].close()  # what logging.shutdown does at exit
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == DEFAULT_LIMIT + 1
    summary = lines[-1]
    assert summary["suppressed_lines"] == 50 - DEFAULT_LIMIT
    assert (summary["level"], summary["logger"], summary["service"]) == (
        "ERROR",
        "aiokafka.conn",
        "downloader",
    )


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


async def test_aiokafka_failing_to_reach_a_closed_port_logs_a_few_lines_and_a_summary(
    restored_root: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("discovery")
    address = _closed_port()
    for _ in range(30):  # a service's producer retrying to reach a broker that is away
        producer = AIOKafkaProducer(bootstrap_servers=address)
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()
    restored_root.handlers[0].close()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    unable = [line for line in lines if line["message"].startswith("Unable connect")]
    summaries = [line for line in lines if "suppressed_lines" in line]
    assert len(unable) == DEFAULT_LIMIT
    assert [s["suppressed_lines"] for s in summaries] == [30 - DEFAULT_LIMIT]
    assert len(lines) <= 2 * DEFAULT_LIMIT + 2
