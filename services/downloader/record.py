"""What the downloader reads back from the record (read-only): whether a wanted book is
already owned, in flight or downloaded, which work a restart must pick up again, and
which releases are blocklisted for a book. Only the recorder writes these tables; the
downloader learns its own past from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.downloader.release_selection import Blocked
from shared import events as ev

BUSY = ("queued", "downloading", "completed", "imported")
"""Download states meaning: do not start another one for this book."""


async def why_not_wanted(engine: AsyncEngine, book: ev.BookRef) -> str | None:
    """Why the book needs no download ("owned", "downloading", …), or None if it does."""
    async with engine.connect() as connection:
        owned = await connection.scalar(
            text(
                "SELECT 1 FROM books WHERE status = 'active' AND ("
                "(CAST(:asin AS text) IS NOT NULL AND asin = :asin) OR "
                "(lower(title) = lower(:title) AND (author IS NULL OR "
                "lower(author) LIKE '%' || coalesce(lower(:author), '') || '%'))"
                ") LIMIT 1"
            ),
            {"asin": book.asin, "title": book.title, "author": book.author},
        )
        if owned:
            return "owned"
        status = await connection.scalar(
            text(
                "SELECT d.status FROM missing_books m JOIN downloads d ON d.missing_book_id = m.id "
                "WHERE m.book_key = :key"
            ),
            {"key": book.key},
        )
    return status if status in BUSY else None


@dataclass(frozen=True)
class Unfinished:
    """A wanted book whose download the record shows as not finished."""

    book: ev.BookRef
    priority: int
    status: str | None  # the download's status, None if none was ever queued
    retry_count: int
    max_retries: int | None
    next_retry: datetime | None
    info_hash: str | None


async def unfinished(engine: AsyncEngine) -> list[Unfinished]:
    """Gaps never started, downloads in flight and failures waiting for their retry."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT m.title, m.author_name, m.asin, m.series_name, m.series_number, "
                "m.expectations, m.priority, d.status, coalesce(d.retry_count, 0) AS retry_count, "
                "d.max_retries, d.next_retry, d.qbittorrent_hash "
                "FROM missing_books m LEFT JOIN downloads d ON d.missing_book_id = m.id "
                "WHERE m.book_id IS NULL AND ((d.id IS NULL AND m.download_status IS DISTINCT "
                "FROM 'needs_review') OR d.status IN "
                "('queued', 'downloading') OR (d.status = 'failed' AND d.next_retry IS NOT NULL))"
                " ORDER BY m.priority, m.identified_date"
            )
        )
        return [
            Unfinished(
                book=ev.BookRef(
                    title=row.title,
                    author=row.author_name,
                    asin=row.asin,
                    series=row.series_name,
                    series_number=row.series_number,
                    expected=_expectations(row.expectations),
                ),
                priority=row.priority or 1,
                status=row.status,
                retry_count=row.retry_count,
                max_retries=row.max_retries,
                next_retry=row.next_retry,
                info_hash=row.qbittorrent_hash,
            )
            for row in rows
        ]


def _expectations(stored: object) -> ev.Expectations | None:
    """A gap's stored expectations; unreadable ones (a newer writer's shape) are ignored:
    the book is still pursued, unchecked on what could not be read."""
    if stored is None:
        return None
    try:
        return ev.Expectations.model_validate(stored)
    except ValidationError:
        return None


async def blocked_releases(engine: AsyncEngine, book: ev.BookRef) -> Blocked:
    """The releases blocklisted for `book` since its blocklist was last cleared."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT r.info_hash, r.guid FROM blocked_releases r "
                "LEFT JOIN missing_books m ON m.book_key = r.book_key "
                "WHERE r.book_key = :key AND r.last_blocked_at > "
                "coalesce(m.blocklist_cleared_at, '-infinity'::timestamptz)"
            ),
            {"key": book.key},
        )
        found = rows.all()
    return Blocked(
        info_hashes=frozenset(row.info_hash.lower() for row in found if row.info_hash),
        guids=frozenset(row.guid for row in found if row.guid),
    )


@dataclass(frozen=True)
class Attempts:
    """How many attempts at a book the record shows failed, and when the last was."""

    failed: int
    last: datetime | None


async def attempts_so_far(engine: AsyncEngine, book: ev.BookRef) -> Attempts:
    """The record's count of failed attempts at `book`, and the last attempt's time."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT coalesce(d.retry_count, 0) AS failed, d.last_attempt "
                    "FROM missing_books m JOIN downloads d ON d.missing_book_id = m.id "
                    "WHERE m.book_key = :key"
                ),
                {"key": book.key},
            )
        ).first()
    return Attempts(0, None) if row is None else Attempts(row.failed, row.last_attempt)
