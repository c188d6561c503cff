"""The recorder as a real process on real Kafka and PostgreSQL, with the writer role:
dead letters, a SIGKILL mid-stream, PostgreSQL going away mid-stream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import make_url

from ops.database_roles import create_roles
from sandbox.histories import Clock, book_history
from shared import events as ev
from shared import topics
from shared.messaging import EventProducer, ensure_topics
from shared.settings import DatabaseSettings, KafkaSettings
from tests.conftest import NAMESPACE, Stack
from tests.support import databases
from tests.support.kafka_reading import dead_letters
from tests.support.recording import clean_record, snapshot
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Setup:
    """A migrated database, the recorder's writer role on it, and a private namespace."""

    owner_url: str
    writer_url: str
    kafka: KafkaSettings


@pytest.fixture
async def setup(stack: Stack, unique: str) -> AsyncIterator[Setup]:
    roles = databases.throwaway_roles(unique)
    async with databases.throwaway(stack, f"svc_{unique}") as url:
        async with databases.using(url):
            await databases.migrate()
        await create_roles(DatabaseSettings(database_url=url), roles)
        password = roles.writer_password.get_secret_value()
        writer = make_url(url).set(username=roles.writer_role, password=password)
        kafka = KafkaSettings(
            kafka_bootstrap_servers=stack.kafka_bootstrap,
            kafka_topic_namespace=f"{NAMESPACE}-{unique}",
        )
        await ensure_topics(kafka, topics.ALL_TOPICS)
        try:
            yield Setup(url, writer.render_as_string(hide_password=False), kafka)
        finally:
            await databases.drop_roles(stack, url, roles)


@contextmanager
def recorder_process(
    setup: Setup, log: Path, batch: int = 500, heartbeat_s: float = 30
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m services.recorder` as the writer role; stopped (if alive) on exit."""
    env = {
        **os.environ,
        "DATABASE_URL": setup.writer_url,
        "ABAUTO_KAFKA_TOPIC_NAMESPACE": setup.kafka.kafka_topic_namespace,
        "ABAUTO_RECORDER_BATCH_SIZE": str(batch),
        "ABAUTO_HEARTBEAT_INTERVAL_SECONDS": str(heartbeat_s),
        # The histories are dated from a fixed day: retention, which runs at start-up,
        # must not delete or close their tasks as the calendar moves on.
        "ABAUTO_RETENTION_DAYS": "36500",
        "ABAUTO_ABANDONED_TASK_HOURS": "876000",
    }
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.recorder"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _publish(setup: Setup, events: list[ev.Event[Any]]) -> None:
    producer = EventProducer(setup.kafka, client_id="tests")
    await producer.start()
    try:
        for start in range(0, len(events), 5000):
            await producer.publish_many(events[start : start + 5000])
    finally:
        await producer.stop()


async def _count(connection: asyncpg.Connection, query: str) -> int:
    value: int = await connection.fetchval(query)
    return value


FACTS = "SELECT count(*) FROM processed_events WHERE event_type <> 'service.heartbeat_sent'"
"""The events the tests published that were recorded (the recorder's own heartbeats are
recorded too)."""


async def _processed(connection: asyncpg.Connection, at_least: int, exactly: bool = False) -> bool:
    done = await _count(connection, FACTS)
    return done == at_least if exactly else done >= at_least


async def _recorded(
    db: asyncpg.Connection,
    n: int,
    process: subprocess.Popen[bytes],
    log: Path,
    exactly: bool = False,
) -> bool:
    """Whether n events are recorded; fails at once if the recorder died meanwhile."""
    _alive(process, log)
    return await _processed(db, n, exactly)


def _alive(process: subprocess.Popen[bytes], log: Path) -> None:
    if process.poll() is not None:
        raise AssertionError(f"recorder exited ({process.returncode}):\n{log.read_text()[-3000:]}")


def _histories(books: int) -> list[ev.Event[Any]]:
    clock = Clock()
    return [event for n in range(books) for event in book_history(n, clock, succeed=n % 5 != 0)]


# ----------------------------------------------------------------------------------- tests


async def test_the_recorder_records_from_kafka_and_dead_letters_what_it_cannot(
    setup: Setup, tmp_path: Path
) -> None:
    good = _histories(3)
    contradiction = ev.TaskFinished.create(
        ev.TaskFinishedPayload(
            run_id=good[1].payload.run_id, task_name="LIBRARY_SCAN",
            outcome=ev.TaskOutcome.FAILED, finished_at=good[1].occurred_at,
        ),
        producer="tests",
    )  # fmt: skip
    poison = b'{"event_type": "download.completed", "schema_version": 1}'
    raw = AIOKafkaProducer(bootstrap_servers=setup.kafka.kafka_bootstrap_servers)
    await raw.start()
    try:
        await raw.send_and_wait(setup.kafka.topic(topics.DOWNLOADS), poison)
    finally:
        await raw.stop()
    await _publish(setup, [*good, contradiction])

    db = await asyncpg.connect(databases.plain(setup.owner_url))
    try:
        log = tmp_path / "recorder.log"
        with recorder_process(setup, log) as process:
            await wait_until(
                lambda: _recorded(db, len(good), process, log, exactly=True),
                within=60,
                what="every good event recorded",
            )
            letters = await dead_letters(setup.kafka, lambda raw: True)
            assert {letter["error_type"] for letter in letters} == {
                "EventDecodeError", "UnapplicableEventError",
            }  # fmt: skip
            process.send_signal(signal.SIGTERM)
            await wait_until(lambda: process.poll() is not None, within=20, what="exit")
            assert process.returncode == 0
        assert await _count(db, "SELECT count(*) FROM missing_books") == 3
        assert "pw-" not in log.read_text()  # the writer's password never reaches the logs
    finally:
        await db.close()


async def test_the_recorder_records_its_own_heartbeats_alive_and_ready(
    setup: Setup, tmp_path: Path
) -> None:
    db = await asyncpg.connect(databases.plain(setup.owner_url))
    log = tmp_path / "recorder.log"
    try:
        with recorder_process(setup, log, heartbeat_s=1) as process:

            async def seen_twice() -> bool:
                _alive(process, log)
                rows = await db.fetch("SELECT first_seen_at, last_seen_at FROM service_instances")
                return len(rows) == 1 and rows[0]["last_seen_at"] > rows[0]["first_seen_at"]

            await wait_until(seen_twice, within=60, what="two heartbeats of the recorder")
            row = await db.fetchrow("SELECT service, pid, ready, readiness FROM service_instances")
        assert row is not None
        assert (row["service"], row["pid"], row["ready"]) == ("recorder", process.pid, True)
        assert json.loads(row["readiness"])["checks"] == {"kafka": True, "database": True}
    finally:
        await db.close()


async def test_a_recorder_killed_mid_stream_resumes_with_nothing_lost_or_doubled(
    stack: Stack, setup: Setup, tmp_path: Path
) -> None:
    events = _histories(1600)  # 20,480 events
    assert len(events) >= 20_000
    await _publish(setup, events)
    db = await asyncpg.connect(databases.plain(setup.owner_url))
    try:
        with recorder_process(setup, tmp_path / "first.log", batch=300) as first:
            await wait_until(
                lambda: _recorded(db, 4000, first, tmp_path / "first.log"),
                within=120,
                what="the recorder well into the stream",
            )
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        done = await _count(db, FACTS)
        assert done < len(events), "killed too late to prove anything"

        with recorder_process(setup, tmp_path / "second.log") as second:
            await wait_until(
                lambda: _recorded(db, len(events), second, tmp_path / "second.log", exactly=True),
                within=180,
                what="every event recorded after the restart",
            )
        assert await snapshot(db) == await clean_record(stack, events)
    finally:
        await db.close()


async def test_postgres_going_away_mid_stream_loses_and_skips_nothing(
    stack: Stack, setup: Setup, tmp_path: Path
) -> None:
    if os.environ.get("ABAUTO_TEST_ADMIN_DATABASE_URL"):
        pytest.skip("needs the project's own PostgreSQL, to stop and start it")
    import devstack
    from devstack.postgres import stop_postgres

    events = _histories(700)
    await _publish(setup, events[: len(events) // 2])
    db = await asyncpg.connect(databases.plain(setup.owner_url))
    log = tmp_path / "recorder.log"
    with recorder_process(setup, log, batch=200) as process:
        await wait_until(
            lambda: _recorded(db, 1, process, log),
            within=60,
            what="recording under way",
        )
        await db.close()
        stop_postgres(devstack.default_state_dir())
        try:
            await _publish(setup, events[len(events) // 2 :])
            await wait_until(
                lambda: "unavailable, waiting for it" in log.read_text(),
                within=60,
                what="the outage noticed",
            )
        finally:
            devstack.up()  # PostgreSQL comes back on the same port
        db = await asyncpg.connect(databases.plain(setup.owner_url))
        await wait_until(
            lambda: _recorded(db, len(events), process, log, exactly=True),
            within=180,
            what="every event recorded after the outage",
        )
    try:
        assert await snapshot(db) == await clean_record(stack, events)
    finally:
        await db.close()


async def test_refused_events_are_dead_lettered_with_the_reason_and_the_recorder_goes_on(
    setup: Setup, tmp_path: Path
) -> None:
    good = _histories(2)
    identified = good[0]
    forged_date = identified.model_copy(
        update={"event_id": uuid.uuid4(), "occurred_at": datetime(9999, 1, 1, tzinfo=UTC)}
    )
    reused_id = identified.model_copy(
        update={"payload": identified.payload.model_copy(update={"priority": 3})}
    )
    failure = next(e for e in good if isinstance(e, ev.FailureRecorded))
    too_big = ev.FailureRecorded.create(
        failure.payload.model_copy(update={"item_key": "x", "details": {"n": 2**70}}),
        producer="tests",
    )
    await _publish(setup, [*good, forged_date, reused_id, too_big])

    db = await asyncpg.connect(databases.plain(setup.owner_url))
    try:
        log = tmp_path / "recorder.log"
        with recorder_process(setup, log) as process:
            await wait_until(
                lambda: _recorded(db, len(good), process, log, exactly=True),
                within=60,
                what="every good event recorded",
            )

            async def three_letters() -> bool:
                _alive(process, log)
                return len(await dead_letters(setup.kafka, lambda raw: True)) == 3

            await wait_until(three_letters, within=60, what="three dead letters")
            errors = [letter["error"] for letter in await dead_letters(setup.kafka, bool)]
            assert sum("allowed skew" in e for e in errors) == 1, errors
            assert sum("conflicting duplicate event id" in e for e in errors) == 1, errors
            assert sum("64 bits" in e or "64-bit" in e for e in errors) == 1, errors
            _alive(process, log)
        assert await _count(db, "SELECT count(*) FROM missing_books WHERE priority = 3") == 0
    finally:
        await db.close()
