"""The operator's view of the release blocklist (`abauto blocklist show|clear`).

`show` reads the record; `clear` publishes a "blocklist cleared" for one book (found by
its key in the record), which the recorder keeps and the downloader obeys: every release
blocklisted for the book before that moment may be taken again. Nothing is deleted: the
record still says what was tried and why it failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import events as ev
from shared.task_runs import Publisher


class UnknownBookError(LookupError):
    """No gap in the record has this book key."""


@dataclass(frozen=True)
class BlockedRow:
    """One blocklisted release of a book, as the record holds it."""

    book_key: str
    title: str | None
    release_title: str | None
    release_key: str
    stage: str
    reason_code: str
    reason: str
    times: int
    last_blocked_at: datetime | None
    blocking: bool
    """False once the book's blocklist was cleared after it was last blocked."""

    def line(self) -> str:
        """One line for a terminal."""
        state = "blocked" if self.blocking else "cleared"
        name = self.release_title or self.release_key
        return (
            f"{self.book_key}\t{state}\t{self.reason_code} ({self.stage}, x{self.times})\t"
            f"{name}\t{self.reason}"
        )


async def blocked(engine: AsyncEngine, book_key: str | None = None) -> list[BlockedRow]:
    """Every blocklisted release (of one book, if given), newest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT r.book_key, m.title, r.release_title, r.release_key, r.stage, "
                "r.reason_code, r.reason, r.block_count, r.last_blocked_at, "
                "r.last_blocked_at > coalesce(m.blocklist_cleared_at, '-infinity') AS blocking "
                "FROM blocked_releases r LEFT JOIN missing_books m ON m.book_key = r.book_key "
                "WHERE CAST(:key AS text) IS NULL OR r.book_key = :key "
                "ORDER BY r.last_blocked_at DESC NULLS LAST"
            ),
            {"key": book_key},
        )
        return [
            BlockedRow(
                row.book_key,
                row.title,
                row.release_title,
                row.release_key,
                row.stage,
                row.reason_code,
                row.reason,
                row.block_count or 0,
                row.last_blocked_at,
                bool(row.blocking),
            )
            for row in rows
        ]


async def wanted_book(engine: AsyncEngine, book_key: str) -> ev.BookRef:
    """The book a gap of the record is about; `UnknownBookError` if there is none."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT title, author_name, asin, series_name, series_number "
                    "FROM missing_books WHERE book_key = :key"
                ),
                {"key": book_key},
            )
        ).first()
    if row is None:
        raise UnknownBookError(f"no wanted book has the key {book_key!r}")
    return ev.BookRef(
        title=row.title,
        author=row.author_name,
        asin=row.asin,
        series=row.series_name,
        series_number=row.series_number,
    )


async def clear(
    engine: AsyncEngine, publisher: Publisher, book_key: str, cleared_by: str
) -> ev.BlocklistCleared:
    """Publish that `book_key`'s blocklist is cleared; the event sent."""
    book = await wanted_book(engine, book_key)
    if book.key != book_key:
        raise UnknownBookError(f"{book_key!r} is recorded under another key, {book.key!r}")
    event = ev.BlocklistCleared.create(
        ev.BlocklistClearedPayload(book=book, cleared_by=cleared_by[:100] or "cli"),
        producer="cli",
    )
    await publisher.publish(event)
    return event
