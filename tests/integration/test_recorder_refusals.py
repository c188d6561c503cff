"""What the recorder refuses, on a real PostgreSQL: events dated beyond the clock skew,
different events reusing an event id, values it cannot encode; and task runs whose
process died, which cleanup closes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.histories import Clock, book_history, stamped
from services.recorder.admission import ClockSkewError, ConflictingDuplicateError
from services.recorder.handler import BatchRecorder
from services.recorder.retention import cleanup
from services.recorder.settings import RecorderSettings
from shared import events as ev
from tests.support.recording import migrated_database, received, record, snapshot, wipe

pytestmark = pytest.mark.integration

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
async def refusals_db(stack: Any) -> AsyncIterator[tuple[AsyncEngine, asyncpg.Connection]]:
    """One migrated database for the module, wiped before each test."""
    async with migrated_database(stack, "ref") as db:
        yield db


@pytest.fixture
async def db(
    refusals_db: tuple[AsyncEngine, asyncpg.Connection],
) -> tuple[AsyncEngine, asyncpg.Connection]:
    await wipe(refusals_db[1])
    return refusals_db


def _ids(rejected: list[Any]) -> list[uuid.UUID]:
    return [r.received.event.event_id for r in rejected]


async def _claimed(connection: asyncpg.Connection, event: ev.Event[Any]) -> bool:
    found: bool = await connection.fetchval(
        "SELECT count(*) = 1 FROM processed_events WHERE event_id = $1", event.event_id
    )
    return found


# ------------------------------------------------------------------------- clock skew


async def test_a_removal_dated_in_the_far_future_is_refused_and_a_rescan_still_counts(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    clock = Clock()
    history = book_history(1, clock)
    discovered = next(e for e in history if isinstance(e, ev.BookDiscovered))
    forged = stamped(
        ev.BookRemoved.create(
            ev.BookRemovedPayload(abs_id=discovered.payload.abs_id, library_id="lib"),
            producer="tests",
        ),
        FAR_FUTURE,
    )
    rejected = await record(engine, [*history, forged])

    assert _ids(rejected) == [forged.event_id]
    assert isinstance(rejected[0].error, ClockSkewError)
    assert "later than the recorder's clock" in str(rejected[0].error)
    assert not await _claimed(connection, forged)  # judged again if ever redelivered
    assert len((await snapshot(connection))["downloads"]) == 1  # the rest is recorded

    removed_now = ev.BookRemoved.create(forged.payload, producer="tests")
    rescan = ev.BookDiscovered.create(discovered.payload, producer="tests")
    await record(engine, [removed_now])
    await record(engine, [stamped(rescan, removed_now.occurred_at + timedelta(seconds=1))])
    assert await connection.fetch("SELECT status FROM books") == [("active",)]


async def test_an_abandonment_dated_in_the_far_future_cannot_pin_an_imported_book(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    history = book_history(2, Clock())
    book = history[0].payload.book
    forged = stamped(
        ev.DownloadAbandoned.create(
            ev.DownloadAbandonedPayload(book=book, error_code="X", retry_count=3, reason="forged"),
            producer="tests",
        ),
        FAR_FUTURE,
    )
    rejected = await record(engine, [forged, *history])
    assert _ids(rejected) == [forged.event_id]
    assert await connection.fetch("SELECT download_status FROM missing_books") == [("imported",)]


async def test_the_skew_allowed_is_the_recorders_setting(db: tuple[AsyncEngine, Any]) -> None:
    engine, connection = db
    now = datetime.now(UTC)
    soon = stamped(book_history(3, Clock())[0], now + timedelta(seconds=90))
    strict = BatchRecorder(engine, max_clock_skew=timedelta(seconds=60), clock=lambda: now)
    assert _ids(list(await strict(received([soon])))) == [soon.event_id]
    lenient = BatchRecorder(engine, max_clock_skew=timedelta(seconds=120), clock=lambda: now)
    assert await lenient(received([soon])) == []
    assert await _claimed(connection, soon)


# ------------------------------------------------------------------ duplicate event ids


def _forgery(event: ev.Event[Any]) -> ev.Event[Any]:
    """Another event under the same id: same type and key, one value different."""
    payload = event.payload.model_copy(update={"priority": event.payload.priority % 3 + 1})
    return event.model_copy(update={"payload": payload})


async def test_a_different_event_reusing_an_applied_id_is_refused_in_a_later_batch(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    history = book_history(4, Clock())
    await record(engine, history)
    before = await snapshot(connection)
    forged = _forgery(history[0])

    rejected = await record(engine, [forged, *history])  # the original, redelivered: silent

    assert _ids(rejected) == [forged.event_id]
    assert isinstance(rejected[0].error, ConflictingDuplicateError)
    assert "conflicting duplicate event id" in str(rejected[0].error)
    assert await snapshot(connection) == before
    assert await _claimed(connection, history[0])  # the applied one stays applied
    assert await record(engine, history) == []  # and its redelivery stays a no-op


@pytest.mark.parametrize("batch_size", [1, 2, 100])
async def test_which_copy_of_an_id_counts_does_not_depend_on_batching(
    db: tuple[AsyncEngine, Any], batch_size: int
) -> None:
    engine, connection = db
    identified = book_history(5, Clock())[0]
    forged = _forgery(identified)
    rejected = await record(engine, [identified, forged, identified], batch_size=batch_size)
    assert [r.received.event.payload.priority for r in rejected] == [forged.payload.priority]
    priority = identified.payload.priority
    assert await connection.fetch("SELECT priority FROM missing_books") == [(priority,)]


async def test_a_conflicting_copy_in_a_batch_in_flight_is_refused(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    history = book_history(6, Clock())
    forged = _forgery(history[0])
    recorder = BatchRecorder(engine)
    first = asyncio.create_task(recorder(received(history)))
    second = asyncio.create_task(recorder(received([forged])))
    rejected = [*await first, *await second]
    assert [type(r.error) for r in rejected] == [ConflictingDuplicateError]
    assert await connection.fetch("SELECT priority FROM missing_books") == [
        (history[0].payload.priority,)
    ]


# --------------------------------------------------------------- values it cannot encode


async def test_values_beyond_64_bits_reject_only_their_event(db: tuple[AsyncEngine, Any]) -> None:
    engine, connection = db
    history = book_history(7, Clock())
    started = next(e for e in history if isinstance(e, ev.TaskStarted))
    failure = next(e for e in history if isinstance(e, ev.FailureRecorded))
    huge = 2**70
    # Built without validation: contracts may bound these, the recorder must not rely on it.
    counted = ev.TaskFinished.create(
        ev.TaskFinishedPayload.model_construct(
            **{
                **ev.TaskFinishedPayload(
                    run_id=started.payload.run_id, task_name=started.payload.task_name,
                    outcome=ev.TaskOutcome.COMPLETED, finished_at=datetime.now(UTC),
                ).model_dump(),
                "items_processed": huge,
            }
        ),
        producer="tests",
    )  # fmt: skip
    detailed = ev.FailureRecorded.create(
        failure.payload.model_copy(update={"item_key": "other", "details": {"bytes": huge}}),
        producer="tests",
    )
    rejected = await record(engine, [*history[:5], counted, detailed, *history[5:]])

    assert sorted(map(str, _ids(rejected))) == sorted(
        map(str, [counted.event_id, detailed.event_id])
    )
    assert all("64-bit" in str(r.error) for r in rejected), [str(r.error) for r in rejected]
    state = await snapshot(connection)
    assert len(state["downloads"]) == 1
    assert not await _claimed(connection, counted)
    assert not await _claimed(connection, detailed)


async def test_a_value_the_projection_cannot_compute_with_rejects_only_its_event(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    history = book_history(8, Clock())
    series = history[0].payload.book.series
    assessed = ev.SeriesAssessed.create(
        ev.SeriesAssessedPayload.model_construct(
            name=series, author=None, asin=None, total_books_in_series=1,
            books_owned=10**400, books_missing=0,  # its share owned overflows a float
            completion_status=ev.CompletionStatus.COMPLETE, checked_at=datetime.now(UTC),
        ),
        producer="tests",
    )  # fmt: skip
    rejected = await record(engine, [*history[:3], assessed, *history[3:]])

    assert _ids(rejected) == [assessed.event_id]
    assert isinstance(rejected[0].error, OverflowError)
    assert len((await snapshot(connection))["downloads"]) == 1
    real = next(e for e in history if isinstance(e, ev.SeriesAssessed))
    totals = await connection.fetch("SELECT total_books_in_series FROM series")
    assert totals == [(real.payload.total_books_in_series,)]  # nothing of the rejected one


# -------------------------------------------------------------------- abandoned task runs


def _settings() -> RecorderSettings:
    return RecorderSettings(
        database_url="postgresql+asyncpg://unused@127.0.0.1/x",
        kafka_bootstrap_servers="127.0.0.1:9",
    )


def _run(task_name: str, started_at: datetime) -> ev.Event[Any]:
    payload = ev.TaskStartedPayload(run_id=uuid.uuid4(), task_name=task_name, started_at=started_at)
    return stamped(ev.TaskStarted.create(payload, producer="tests"), started_at)


async def test_cleanup_fails_runs_left_running_and_a_late_finish_still_wins(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    now = datetime.now(UTC)
    killed, busy = (
        _run("DISCOVERY", now - timedelta(hours=30)),
        _run("IMPORT", now - timedelta(hours=1)),
    )
    await record(engine, [killed, busy])

    report = await cleanup(engine, _settings(), now=now)

    assert report.abandoned_tasks == 1
    query = (
        "SELECT task_name, status, error_message FROM tasks "
        "WHERE run_id IS NOT NULL ORDER BY task_name"
    )
    (discovery, imported) = await connection.fetch(query)
    assert discovery["status"] == "failed"
    assert discovery["error_message"].startswith("abandoned: still running 24 h after it started")
    assert (imported["status"], imported["error_message"]) == ("running", None)

    finished = ev.TaskFinished.create(
        ev.TaskFinishedPayload(
            run_id=killed.payload.run_id, task_name="DISCOVERY",
            outcome=ev.TaskOutcome.COMPLETED, finished_at=now, items_processed=5,
        ),
        producer="tests",
    )  # fmt: skip
    assert await record(engine, [finished]) == []
    rows = await connection.fetch(query)
    assert (rows[0]["status"], rows[0]["error_message"]) == ("completed", None)
