"""What the downloader learns from the record: what not to download again, and what a
restarted downloader must pick up — a scheduled retry survives a restart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ops import blocklist_commands, review_commands
from services.downloader.record import blocked_releases, unfinished, why_not_wanted
from services.downloader.release_selection import Blocked
from shared import events as ev
from shared.database import create_engine_from
from shared.settings import DatabaseSettings
from tests.support import databases
from tests.support.fakes import FakePublisher
from tests.support.recording import record

pytestmark = pytest.mark.integration

RETRY_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def book(n: int) -> ev.BookRef:
    return ev.BookRef(title=f"Book {n}", author="Mara Quill", asin=f"B0RESUME{n:02d}",
                      series="Lanterns", series_number=str(n))  # fmt: skip


def wanted(n: int) -> ev.Event[Any]:
    payload = ev.MissingBookIdentifiedPayload(
        book=book(n), reason_missing=ev.MissingReason.SERIES_GAP
    )
    return ev.MissingBookIdentified.create(payload, producer="tests")


def failed(n: int, *, will_retry: bool) -> ev.Event[Any]:
    retry = ev.RetryInfo(retry_count=1, max_retries=3, will_retry=will_retry,
                         next_retry_at=RETRY_AT if will_retry else None)  # fmt: skip
    payload = ev.DownloadFailedPayload(
        book=book(n), error_code="NO_RELEASE", reason="none", retry=retry
    )
    return ev.DownloadFailed.create(payload, producer="tests")


@pytest.fixture(scope="module")
async def engine(stack: Any) -> AsyncIterator[AsyncEngine]:
    async with databases.throwaway(stack, f"dl_{uuid.uuid4().hex[:8]}") as url:
        async with databases.using(url):
            await databases.migrate()
        engine = create_engine_from(DatabaseSettings(database_url=url))
        try:
            yield engine
        finally:
            await engine.dispose()


async def test_a_restart_resumes_new_gaps_and_scheduled_retries_only(engine: AsyncEngine) -> None:
    queued = ev.DownloadQueued.create(
        ev.DownloadQueuedPayload(book=book(3), source="idx", release_title="Book 3 m4b"),
        producer="tests",
    )
    abandoned = ev.DownloadAbandoned.create(
        ev.DownloadAbandonedPayload(
            book=book(4), error_code="NO_RELEASE", reason="x", retry_count=3
        ),
        producer="tests",
    )
    imported = ev.ImportCompleted.create(
        ev.ImportCompletedPayload(book=book(5), abs_id="li_5", library_path="/lib/5"),
        producer="tests",
    )
    await record(engine, [
        wanted(1),
        wanted(2), failed(2, will_retry=True),
        wanted(3), queued,
        wanted(4), failed(4, will_retry=False), abandoned,
        wanted(5), imported,
    ])  # fmt: skip

    work = {w.book.key: w for w in await unfinished(engine)}
    assert set(work) == {book(1).key, book(2).key, book(3).key}
    assert (work[book(1).key].status, work[book(1).key].next_retry) == (None, None)
    retry = work[book(2).key]
    assert (retry.status, retry.retry_count, retry.next_retry) == ("failed", 1, RETRY_AT)
    assert work[book(3).key].status == "queued"  # in flight: found again by its tag

    assert await why_not_wanted(engine, book(3)) == "queued"
    assert await why_not_wanted(engine, book(1)) is None
    assert await why_not_wanted(engine, book(5)) is not None  # imported: owned now


def blocklisted(n: int, info_hash: str, code: str = "DOWNLOAD_STALLED") -> ev.Event[Any]:
    payload = ev.ReleaseBlocklistedPayload(
        book=book(n), info_hash=info_hash, guid=f"sandbox-{info_hash[:4]}", indexer="sandbox",
        release_title=f"Book {n} [m4b]", stage=ev.BlockStage.DOWNLOAD, reason_code=code,
        reason="no progress",
    )  # fmt: skip
    return ev.ReleaseBlocklisted.create(payload, producer="tests")


async def test_the_blocklist_survives_in_the_record_until_the_book_is_cleared(
    engine: AsyncEngine,
) -> None:
    n = 40
    await record(engine, [wanted(n), blocklisted(n, "AA" * 20), blocklisted(n + 1, "bb" * 20)])
    found = await blocked_releases(engine, book(n))
    assert found.info_hashes == {"aa" * 20}  # lowercased, and only this book's
    assert found.guids == {"sandbox-AAAA"}

    published = FakePublisher()
    cleared = await blocklist_commands.clear(engine, published, book(n).key, "alice")
    assert published.of(ev.BlocklistCleared) == [cleared]
    assert cleared.payload.book.key == book(n).key
    await record(engine, [cleared])
    assert await blocked_releases(engine, book(n)) == Blocked()
    [row] = await blocklist_commands.blocked(engine, book(n).key)
    assert (row.blocking, row.reason_code, row.times) == (False, "DOWNLOAD_STALLED", 1)

    later = blocklisted(n, "cc" * 20, "TORRENT_REJECTED")  # blocked after the clearing
    await record(engine, [later])
    assert (await blocked_releases(engine, book(n))).info_hashes == {"cc" * 20}


async def test_clearing_a_book_the_record_does_not_know_is_refused(engine: AsyncEngine) -> None:
    published = FakePublisher()
    with pytest.raises(blocklist_commands.UnknownBookError):
        await blocklist_commands.clear(engine, published, "asin:B0NOSUCH00", "alice")
    assert published.events == []


async def test_a_restart_keeps_what_the_book_is_like(engine: AsyncEngine) -> None:
    n = 50
    expected = ev.Expectations(runtime_minutes=640, language="english", narrators=["Ray Porter"])
    payload = ev.MissingBookIdentifiedPayload(
        book=book(n).model_copy(update={"expected": expected}),
        reason_missing=ev.MissingReason.SERIES_GAP,
    )
    await record(engine, [ev.MissingBookIdentified.create(payload, producer="tests")])
    [resumed] = [w for w in await unfinished(engine) if w.book.key == book(n).key]
    assert resumed.book.expected == expected


async def test_a_gap_for_review_is_not_resumed_until_it_is_asked_for(engine: AsyncEngine) -> None:
    n = 60
    payload = ev.MissingBookIdentifiedPayload(
        book=book(n), reason_missing=ev.MissingReason.AUTHOR_GAP, priority=3,
        confidence=0.55, evidence="by the author, in no owned series", needs_review=True,
    )  # fmt: skip
    await record(engine, [ev.MissingBookIdentified.create(payload, producer="tests")])
    assert book(n).key not in {w.book.key for w in await unfinished(engine)}
    [row] = [r for r in await review_commands.for_review(engine) if r.book_key == book(n).key]
    assert (row.confidence, row.evidence) == (0.55, "by the author, in no owned series")

    published = FakePublisher()
    approved = await review_commands.approve(engine, published, book(n).key, "alice")
    await record(engine, [approved])
    assert book(n).key in {w.book.key for w in await unfinished(engine)}
    assert book(n).key not in {r.book_key for r in await review_commands.for_review(engine)}
