"""What the downloader learns from the record: what not to download again, and what a
restarted downloader must pick up — a scheduled retry survives a restart."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.downloader.record import unfinished, why_not_wanted
from shared import events as ev
from shared.database import create_engine_from
from shared.settings import DatabaseSettings
from tests.support import databases
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
