"""The recorder's effect on the tables, on a real PostgreSQL: every event type,
duplicates, any order (property-based), rejected events, retention."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from sandbox.histories import Clock, book_history, heartbeat, progress_sample, stamped
from services.recorder.handler import BatchRecorder, _Turn
from services.recorder.retention import cleanup
from services.recorder.settings import RecorderSettings
from services.recorder.store import Handover, Store
from shared import events as ev
from tests.support.recording import migrated_database, received, record, snapshot, wipe

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def recorded_db(stack: Any) -> AsyncIterator[tuple[AsyncEngine, asyncpg.Connection]]:
    """One migrated database for the module, wiped before each test."""
    async with migrated_database(stack, "rec") as db:
        yield db


@pytest.fixture
async def db(
    recorded_db: tuple[AsyncEngine, asyncpg.Connection],
) -> tuple[AsyncEngine, asyncpg.Connection]:
    await wipe(recorded_db[1])
    return recorded_db


async def _rows(connection: asyncpg.Connection, query: str) -> list[dict[str, Any]]:
    return [dict(r) for r in await connection.fetch(query)]


def _one(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


# ------------------------------------------------------------------ each event's effect


async def test_a_whole_book_history_lands_in_every_table(db: tuple[AsyncEngine, Any]) -> None:
    engine, connection = db
    history = book_history(1, Clock())
    assert await record(engine, history) == []
    state = await snapshot(connection)

    missing = _one(state["missing_books"])
    assert missing["download_status"] == "imported"  # the last lifecycle event wins
    assert missing["reason_missing"] == "series_gap"
    assert (missing["series"], missing["author"], missing["book"]) == (
        "Series 1", "Author 1", "li_00000001",
    )  # fmt: skip
    assert missing["download_linked"] is True

    download = _one(state["downloads"])
    assert download["status"] == "completed"
    assert download["abs_import_status"] == "imported"
    assert download["retry_count"] == 1
    assert download["next_retry"] is None
    assert download["source"] == "prowlarr"
    assert download["torrent_url"] == "http://127.0.0.1:9696/dl?apikey=k&id=1"
    assert download["qbittorrent_hash"] == f"{1:040x}"
    assert download["book"] == "li_00000001"
    assert download["date_queued"] == history[2].occurred_at
    assert download["date_completed"] == history[9].occurred_at

    book = _one(state["books"])
    assert (book["title"], book["status"], book["import_source"]) == (
        "Volume 1", "active", "abauto",
    )  # fmt: skip
    assert book["series"] == "Series 1"
    assert book["metadata_completeness_percent"] == 56  # 5 of the 9 fields

    task = _one(state["tasks"])
    assert (task["task_name"], task["status"], task["items_succeeded"]) == (
        "DOWNLOAD",
        "completed",
        1,
    )
    assert task["duration_seconds"] is not None

    failure = _one(state["failed_attempts"])
    assert failure["attempt_count"] == 2
    assert failure["first_attempt"] == history[4].occurred_at
    assert failure["last_attempt"] == history[12].occurred_at
    assert failure["reason"] == "stalled again"
    assert json.loads(failure["metadata"]) == {"attempt": 2, "indexer": "prowlarr"}
    assert failure["item"] == "asin:B000000001"

    assert json.loads(missing["expectations"]) == {
        "runtime_minutes": 601, "language": "english", "abridged": None, "narrators": [],
    }  # fmt: skip
    assert missing["blocklist_cleared_at"] == history[6].occurred_at
    blocked = _one(state["blocked_releases"])
    assert (blocked["release_key"], blocked["reason_code"], blocked["stage"]) == (
        f"hash:{1:040x}", "DOWNLOAD_STALLED", "download",
    )  # fmt: skip
    assert (blocked["gap"], blocked["block_count"]) == ("asin:B000000001", 1)
    assert blocked["last_blocked_at"] == history[5].occurred_at

    series = _one(state["series"])
    assert (series["books_owned"], series["completion_percentage"]) == (6, 86)
    assert _one(state["metadata_corrections"])["new_value"] == "Volume 1"


async def test_a_release_blocklisted_twice_is_one_row_counted_twice_until_cleared(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    clock = Clock()
    history = book_history(9, clock)
    blocked = history[5]
    again = stamped(
        ev.ReleaseBlocklisted.create(
            blocked.payload.model_copy(
                update={"stage": ev.BlockStage.IMPORT, "reason_code": "WRONG_BOOK"}
            ),
            producer="importer",
        ),
        clock.tick(),
    )
    # The clearing arrives first, the later block last: the row still counts both, and
    # blocks again, because it was blocked after the clearing.
    await record(engine, [history[6], *history[:5], again, blocked])
    row = _one(
        await _rows(
            connection,
            "SELECT r.block_count, r.reason_code, r.stage, "
            "r.last_blocked_at > m.blocklist_cleared_at AS blocking "
            "FROM blocked_releases r JOIN missing_books m ON m.id = r.missing_book_id",
        )
    )
    assert row == {
        "block_count": 2, "reason_code": "WRONG_BOOK", "stage": "import", "blocking": True,
    }  # fmt: skip


async def test_re_identifying_a_gap_never_adds_a_row_or_regresses_it(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    clock = Clock()
    history = book_history(2, clock)[:3]  # identified, task started, queued
    again = stamped(
        ev.MissingBookIdentified.create(history[0].payload, producer="discovery"), clock.tick()
    )
    await record(engine, [*history, again])
    rows = await _rows(connection, "SELECT download_status FROM missing_books")
    assert rows == [{"download_status": "queued"}]


async def test_a_failed_download_records_its_retry_schedule(db: tuple[AsyncEngine, Any]) -> None:
    engine, connection = db
    history = book_history(3, Clock())[:5]
    await record(engine, history)
    download = _one(
        await _rows(connection, "SELECT status, retry_count, next_retry FROM downloads")
    )
    assert download == {
        "status": "failed",
        "retry_count": 1,
        "next_retry": history[3].payload.retry.next_retry_at,
    }


async def test_an_abandoned_download_fails_its_gap(db: tuple[AsyncEngine, Any]) -> None:
    engine, connection = db
    await record(engine, book_history(4, Clock(), succeed=False))
    rows = await _rows(
        connection,
        "SELECT m.download_status, d.status FROM missing_books m JOIN downloads d "
        "ON d.missing_book_id = m.id",
    )
    assert rows == [{"download_status": "failed", "status": "abandoned"}]


async def test_import_failure_and_book_removal(db: tuple[AsyncEngine, Any]) -> None:
    engine, connection = db
    clock = Clock()
    history = book_history(5, clock)
    book = history[0].payload.book
    failed = stamped(
        ev.ImportFailed.create(
            ev.ImportFailedPayload(
                book=book, error_code="ABS_SCAN", reason="scan", details="timeout"
            ),
            producer="importer",
        ),
        clock.tick(),
    )
    removed = stamped(
        ev.BookRemoved.create(
            ev.BookRemovedPayload(abs_id="li_00000005", library_id="lib"), producer="d"
        ),
        clock.tick(),
    )
    await record(engine, [*history, failed, removed])
    download = _one(
        await _rows(connection, "SELECT abs_import_status, abs_import_error FROM downloads")
    )
    assert download == {"abs_import_status": "import_failed", "abs_import_error": "scan: timeout"}
    assert await _rows(connection, "SELECT status FROM books") == [{"status": "archived"}]


async def test_a_request_and_an_author_assessment(db: tuple[AsyncEngine, Any]) -> None:
    engine, connection = db
    requested = ev.BookRequested.create(
        ev.BookRequestedPayload(book=ev.BookRef(title="Dune", author="Frank Herbert")),
        producer="home-assistant",
    )
    assessed = ev.AuthorAssessed.create(
        ev.AuthorAssessedPayload(
            name="Frank Herbert",
            audiobooks_owned=3,
            audiobooks_missing=2,
            completion_status=ev.CompletionStatus.PARTIAL,
            checked_at=datetime.now(UTC),
        ),
        producer="discovery",
    )
    await record(engine, [requested, assessed])
    assert await _rows(connection, "SELECT book_key, reason_missing FROM missing_books") == [
        {"book_key": "book:frank herbert/dune", "reason_missing": "requested"}
    ]
    author = _one(
        await _rows(connection, "SELECT audiobooks_owned, audiobooks_missing FROM authors")
    )
    assert author == {"audiobooks_owned": 3, "audiobooks_missing": 2}


PROGRESS = (
    "SELECT d.status, m.download_status, d.progress, d.downloaded_bytes, d.size_bytes, "
    "d.speed_bytes_per_second, d.eta_seconds, d.seeders, d.leechers, d.progress_at, "
    "d.qbittorrent_status FROM downloads d JOIN missing_books m ON m.id = d.missing_book_id"
)


async def test_the_newest_progress_sample_is_on_the_download_and_never_revives_it(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    clock = Clock()
    history = book_history(12, clock)
    identified, queued, completed = history[0], history[7], history[9]
    book, info_hash = identified.payload.book, queued.payload.info_hash
    earlier, later = clock.tick(), clock.tick(30)
    newest = progress_sample(book, info_hash, later, 0.75, state="stalledDL")
    # Batch by batch, so the versions the last samples are judged by come from the rows.
    await record(engine, [identified, queued, newest])
    await record(engine, [progress_sample(book, info_hash, earlier, 0.25)])  # older: ignored
    row = _one(await _rows(connection, PROGRESS))
    assert row == {
        "status": "downloading", "download_status": "downloading", "progress": 0.75,
        "downloaded_bytes": 300_000_000, "size_bytes": 400_000_000,
        "speed_bytes_per_second": 2_000_000, "eta_seconds": 50, "seeders": 5, "leechers": 2,
        "progress_at": later, "qbittorrent_status": "stalledDL",
    }  # fmt: skip

    done = stamped(completed, clock.tick())
    await record(engine, [done])
    await record(engine, [progress_sample(book, info_hash, clock.tick(), 0.99)])  # after it
    row = _one(await _rows(connection, PROGRESS))
    assert (row["status"], row["download_status"]) == ("completed", "completed")


async def test_heartbeats_keep_one_row_per_process_last_seen_only_forward(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    clock = Clock()
    first, second, third = clock.tick(), clock.tick(30), clock.tick(30)
    away = {"qBittorrent and the indexers": "qBittorrent unreachable"}
    await record(engine, [heartbeat("downloader", third, ready=False, unavailable=away)])
    await record(engine, [heartbeat("downloader", first), heartbeat("downloader", second)])
    await record(engine, [heartbeat("recorder", second, instance_id="db-host:77")])
    rows = await _rows(
        connection,
        "SELECT service, instance_id, hostname, pid, ready, readiness, first_seen_at, "
        "last_seen_at, interval_seconds FROM service_instances ORDER BY service",
    )
    assert [(r["service"], r["instance_id"], r["hostname"], r["pid"]) for r in rows] == [
        ("downloader", "downloader-host:1", "downloader-host", 1),
        ("recorder", "db-host:77", "db-host", 77),
    ]
    downloader = rows[0]
    assert (downloader["first_seen_at"], downloader["last_seen_at"]) == (first, third)
    assert downloader["ready"] is False  # the newest heartbeat's, though it came first
    assert json.loads(downloader["readiness"])["unavailable"] == away
    assert downloader["interval_seconds"] == 30.0


async def test_a_clean_stop_is_recorded_whatever_order_the_heartbeats_come_in(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    clock = Clock()
    first, last = clock.tick(), clock.tick(30)
    await record(engine, [heartbeat("importer", last, stopping=True)])
    await record(engine, [heartbeat("importer", first)])  # late, and older
    [row] = await _rows(connection, "SELECT last_seen_at, stopped_at FROM service_instances")
    assert (row["last_seen_at"], row["stopped_at"]) == (last, last)


# ---------------------------------------------------------------- duplicates and order


async def test_a_duplicate_delivery_changes_nothing(db: tuple[AsyncEngine, Any]) -> None:
    engine, connection = db
    history = book_history(6, Clock())
    await record(engine, history)
    before = await snapshot(connection)
    await record(engine, history)  # every event again, in later batches
    await record(engine, history[:3] + history[:3])  # and twice within one batch
    assert await snapshot(connection) == before
    assert await connection.fetchval("SELECT count(*) FROM processed_events") == len(history)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[ev.Event[Any]], list[ev.Event[Any]], int]:
    """A two-book history, then the same events shuffled, some repeated, in batches."""
    clock = Clock()
    history = book_history(7, clock) + book_history(8, clock, succeed=False)
    repeats = draw(st.lists(st.sampled_from(history), max_size=10))
    arrival = draw(st.permutations(history + repeats))
    batch_size = draw(st.integers(min_value=1, max_value=len(arrival)))
    return history, arrival, batch_size


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=deliveries())
async def test_any_order_and_any_duplicates_converge_on_the_same_record(
    db: tuple[AsyncEngine, Any],
    case: tuple[list[ev.Event[Any]], list[ev.Event[Any]], int],
) -> None:
    engine, connection = db
    history, arrival, batch_size = case
    await wipe(connection)
    await record(engine, history)
    in_order = await snapshot(connection)

    await wipe(connection)
    await record(engine, arrival, batch_size=batch_size)
    assert await snapshot(connection) == in_order


# -------------------------------------------------------------- what cannot be applied


async def test_an_event_the_database_refuses_is_rejected_and_the_rest_commits(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    good = book_history(9, Clock())
    discovered = next(e for e in good if isinstance(e, ev.BookDiscovered))
    payload = discovered.payload.model_copy(update={"abs_id": "li_huge", "duration_minutes": 2**40})
    too_long = ev.BookDiscovered.create(payload, producer="tests")  # int4 cannot hold it
    rejected = await record(engine, [*good[:5], too_long, *good[5:]])

    assert [r.received.event.event_id for r in rejected] == [too_long.event_id]
    assert "out of range for type integer" in str(rejected[0].error)
    assert len((await snapshot(connection))["downloads"]) == 1
    assert not await connection.fetchval(
        "SELECT count(*) FROM processed_events WHERE event_id = $1", too_long.event_id
    )


async def test_a_contradictory_task_is_rejected_with_the_reason(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    run = uuid.uuid4()
    started = ev.TaskStarted.create(
        ev.TaskStartedPayload(run_id=run, task_name="SERIES", started_at=datetime.now(UTC)),
        producer="discovery",
    )
    finished = ev.TaskFinished.create(
        ev.TaskFinishedPayload(
            run_id=run, task_name="AUTHOR", outcome=ev.TaskOutcome.COMPLETED,
            finished_at=datetime.now(UTC),
        ),
        producer="discovery",
    )  # fmt: skip
    rejected = await record(engine, [started, finished])
    assert [str(r.error) for r in rejected] == [f"run {run} is a SERIES task, not AUTHOR"]
    assert await _rows(connection, "SELECT task_name, status FROM tasks") == [
        {"task_name": "SERIES", "status": "running"}
    ]


async def test_a_command_on_a_domain_topic_is_rejected_not_recorded(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    command = ev.DiscoveryRequested.create(ev.DiscoveryRequestedPayload(), producer="cli")
    book = book_history(3, Clock())[0]
    rejected = await record(engine, [command, book])
    assert [str(r.error) for r in rejected] == [
        "command.discovery_requested is not a fact the recorder keeps"
    ]
    assert await connection.fetchval("SELECT count(*) FROM missing_books") == 1


# ----------------------------------------------------------------------------- retention


async def test_cleanup_deletes_old_tasks_corrections_and_processes_but_never_failures(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=45), now - timedelta(days=2)
    for at in (old, recent):
        history = book_history(int(at.timestamp()) % 10_000, Clock(at))
        await record(engine, history)
    await record(
        engine,
        [heartbeat("importer", old, instance_id="gone:1"), heartbeat("importer", recent)],
    )
    await connection.execute(
        "INSERT INTO failed_attempts (task_name, reason, last_attempt, created_at) "
        "VALUES ('DOWNLOAD', 'ancient', $1, $1)",
        now - timedelta(days=3650),
    )
    await connection.execute(
        "UPDATE processed_events SET processed_at = $1 WHERE event_type LIKE 'task.%'",
        now - timedelta(days=60),
    )
    failures_before = await connection.fetchval("SELECT count(*) FROM failed_attempts")

    settings_ = RecorderSettings(
        database_url="postgresql+asyncpg://unused@127.0.0.1/x",
        kafka_bootstrap_servers="127.0.0.1:9",
    )
    report = await cleanup(engine, settings_, now=now)

    assert (report.tasks, report.metadata_corrections) == (1, 1)
    assert report.processed_events == 4
    assert report.service_instances == 1  # a process not heard from in 45 days
    instances = await _rows(connection, "SELECT instance_id FROM service_instances")
    assert instances == [{"instance_id": "importer-host:1"}]
    assert await connection.fetchval("SELECT count(*) FROM failed_attempts") == failures_before
    tasks = await _rows(connection, "SELECT task_name, status FROM tasks ORDER BY task_name")
    assert tasks == [
        {"task_name": "CLEANUP", "status": "completed"},
        {"task_name": "DOWNLOAD", "status": "completed"},
    ]
    corrections = await _rows(connection, "SELECT correction_date FROM metadata_corrections")
    assert [c["correction_date"] > now - timedelta(days=30) for c in corrections] == [True]


def _step(
    correction: uuid.UUID, status: ev.CorrectionStatus, at: datetime, value: str
) -> ev.Event[Any]:
    payload = ev.MetadataCorrectedPayload(
        abs_id="li_corrected", field_name="publisher", old_value=None, new_value=value,
        source="audible", reason="empty in the library", correction_id=correction,
        status=status,
    )  # fmt: skip
    event = ev.MetadataCorrected.create(payload, producer="tests")
    return event.model_copy(update={"occurred_at": at})


async def test_each_step_of_a_correction_is_a_row_of_its_history(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    correction, at = uuid.uuid4(), datetime.now(UTC)
    steps = [
        _step(correction, ev.CorrectionStatus.PROPOSED, at, "Tor"),
        _step(correction, ev.CorrectionStatus.APPLIED, at + timedelta(seconds=1), "Tor"),
    ]
    assert await record(engine, steps) == []
    rows = await _rows(
        connection,
        "SELECT field_name, new_value, correction_id, status FROM metadata_corrections "
        "ORDER BY correction_date",
    )
    assert rows == [
        {"field_name": "publisher", "new_value": "Tor", "correction_id": correction,
         "status": "proposed"},
        {"field_name": "publisher", "new_value": "Tor", "correction_id": correction,
         "status": "applied"},
    ]  # fmt: skip


async def test_cleanup_keeps_every_row_of_an_old_correction_still_applied(
    db: tuple[AsyncEngine, Any],
) -> None:
    engine, connection = db
    now = datetime.now(UTC)
    old = now - timedelta(days=45)
    applied, reverted, proposed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    s = ev.CorrectionStatus
    await record(
        engine,
        [
            _step(applied, s.PROPOSED, old, "Applied"),
            _step(applied, s.APPLIED, old + timedelta(seconds=1), "Applied"),
            _step(reverted, s.APPLIED, old, "Reverted"),
            _step(reverted, s.REVERTED, old + timedelta(seconds=1), "Reverted"),
            _step(proposed, s.PROPOSED, old, "Proposed"),
        ],
    )
    settings_ = RecorderSettings(
        database_url="postgresql+asyncpg://unused@127.0.0.1/x",
        kafka_bootstrap_servers="127.0.0.1:9",
    )
    report = await cleanup(engine, settings_, now=now)

    assert report.metadata_corrections == 3
    kept = await _rows(
        connection, "SELECT correction_id, status FROM metadata_corrections ORDER BY id"
    )
    assert kept == [
        {"correction_id": applied, "status": "proposed"},
        {"correction_id": applied, "status": "applied"},
    ]


async def test_a_batch_built_on_a_refused_one_never_inherits_the_refused_event(
    db: tuple[AsyncEngine, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, connection = db
    tasks: dict[str, asyncio.Task[Any]] = {}
    take_turn = Store.take_turn

    async def after_the_first_batch_retried(store: Store) -> int:
        # The dangerous order: the first batch is refused, retried event by event and
        # committed before the second one takes its turn, so the generation looks right.
        if asyncio.current_task() is tasks.get("second"):
            await asyncio.wait({tasks["first"]})
        return await take_turn(store)

    monkeypatch.setattr(Store, "take_turn", after_the_first_batch_retried)
    clock = Clock()
    identified = book_history(11, clock)[0]
    book = identified.payload.book
    refused = stamped(  # sets the gap to "failed" (legal) and retry_count to 2**40 (not)
        ev.DownloadFailed.create(
            ev.DownloadFailedPayload(
                book=book,
                error_code="X",
                reason="x",
                # Beyond what the contract accepts: built past validation, as a forged one.
                retry=ev.RetryInfo.model_construct(
                    retry_count=2**40, max_retries=3, will_retry=False, next_retry_at=None
                ),
            ),
            producer="tests",
        ),
        clock.tick(),
    )
    once_more, again = (
        stamped(ev.MissingBookIdentified.create(identified.payload, producer="t"), clock.tick())
        for _ in range(2)
    )
    await record(engine, [identified])  # the rows exist: no id can be stale below

    recorder = BatchRecorder(engine)
    first = tasks["first"] = asyncio.create_task(recorder(received([once_more, refused])))
    second = tasks["second"] = asyncio.create_task(recorder(received([again])))
    rejected = [*await first, *await second]

    assert [r.received.event.event_id for r in rejected] == [refused.event_id]
    assert await _rows(connection, "SELECT download_status FROM missing_books") == [
        {"download_status": "identified"}  # not "failed": that event was never recorded
    ]
    assert await connection.fetchval("SELECT count(*) FROM downloads") == 0


async def test_what_a_batch_hands_over_stays_the_size_of_one_batch(
    db: tuple[AsyncEngine, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A recorder runs for months: what one batch passes to the next must not accumulate
    # everything the pipeline has ever seen (it did: every id travelled on for ever).
    engine, _ = db
    handovers: list[Handover] = []
    hand_over = _Turn.hand_over

    def kept(turn: _Turn, generation: int, handover: Handover | None) -> None:
        if handover is not None:
            handovers.append(handover)
        hand_over(turn, generation, handover)

    monkeypatch.setattr(_Turn, "hand_over", kept)
    clock = Clock()
    recorder = BatchRecorder(engine)
    for n in range(12):  # twelve batches of two books each, nothing shared between them
        await recorder(received([*book_history(2 * n, clock), *book_history(2 * n + 1, clock)]))

    sizes = [len(h.ids) for h in handovers]  # once every batch has written its rows
    assert len(sizes) == 12
    assert sizes[0] > 0
    assert max(sizes) == sizes[0]  # the last batch hands over no more than the first
