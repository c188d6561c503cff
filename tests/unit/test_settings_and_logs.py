"""Settings refuse unsafe values at start-up; log lines are JSON and never carry secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from pydantic import ValidationError

from shared.logs import configure_logging, context_with, log_context
from shared.settings import ServiceSettings

URL = "postgresql+asyncpg://recorder:s3cret-pw@db.internal:5432/abauto"


def test_settings_read_the_standard_variable_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("ABAUTO_KAFKA_TOPIC_PARTITIONS", "6")
    settings = ServiceSettings()
    assert settings.database_url.get_secret_value() == URL
    assert settings.kafka_topic_partitions == 6
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in str(settings)


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("DATABASE_URL", "postgresql://u:s3cret-pw@h/db", r"postgresql\+asyncpg://"),
        ("KAFKA_BOOTSTRAP_SERVERS", "kafka-without-port", "not host:port"),
        ("ABAUTO_KAFKA_TOPIC_PARTITIONS", "0", "greater than or equal to 1"),
        ("ABAUTO_LOG_LEVEL", "LOUD", "should match pattern"),
    ],
)
def test_unsafe_values_are_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, complaint: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=complaint) as caught:
        ServiceSettings()
    assert "s3cret-pw" not in str(caught.value)


def test_log_lines_are_json_with_service_and_event_context(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", URL)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("recorder")
        logger = logging.getLogger("tests.logs")
        with log_context(event_id="e-1", correlation_id="c-1", topic="t", partition=2, offset=9):
            logger.info("recorded with settings %s", ServiceSettings())
        logger.warning("outside")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    inside, outside = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert inside["service"] == "recorder"
    assert inside["level"] == "INFO"
    assert (inside["event_id"], inside["correlation_id"]) == ("e-1", "c-1")
    assert (inside["topic"], inside["partition"], inside["offset"]) == ("t", 2, 9)
    assert "s3cret-pw" not in inside["message"]
    assert "event_id" not in outside
    assert outside["message"] == "outside"
    for line in (inside, outside):  # UTC, RFC 3339, milliseconds, whatever the host's zone
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
        assert line["event"] == "tests.log"  # a line naming no event: its logger's package


async def test_a_task_started_with_its_context_logs_it_on_every_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("downloader")
        logger = logging.getLogger("services.pursuit")

        async def pursue() -> None:
            logger.info("searching", extra={"event": "release.searched"})
            await asyncio.sleep(0)  # across an await
            logger.info("chosen", extra={"event": "release.chosen"})

        with log_context(event_id="e-1"):
            bound = context_with(book="asin:B1", correlation_id="c")
            await asyncio.create_task(pursue(), context=bound)
        logger.info("after", extra={"event": "download.skipped"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    searched, chosen, after = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    for line in (searched, chosen):
        assert (line["book"], line["correlation_id"], line["event_id"]) == ("asin:B1", "c", "e-1")
    assert "book" not in after
