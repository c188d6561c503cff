"""Gaps recorded for review (`abauto review list|approve`): discovery was not sure enough
that the library lacks them (an author's book outside the owned series, found by a
looser match) to download them unasked.

`list` reads the record; `approve` publishes a "book requested" for the gap's book, which
the downloader pursues like any request (and the recorder records). Nothing is written
to PostgreSQL by the command itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ops.blocklist_commands import UnknownBookError, wanted_book
from shared import events as ev
from shared.task_runs import Publisher


@dataclass(frozen=True)
class ReviewRow:
    """A gap waiting for review."""

    book_key: str
    title: str
    author: str | None
    reason_missing: str
    confidence: float | None
    evidence: str | None

    def line(self) -> str:
        """One line for a terminal."""
        sure = "?" if self.confidence is None else f"{self.confidence:.2f}"
        return (
            f"{self.book_key}\t{self.title}\t{self.author or ''}\t{self.reason_missing}\t"
            f"confidence {sure}\t{self.evidence or ''}"
        )


async def for_review(engine: AsyncEngine) -> list[ReviewRow]:
    """Every gap waiting for review, the surest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT book_key, title, author_name, reason_missing, confidence, evidence "
                "FROM missing_books WHERE download_status = 'needs_review' "
                "ORDER BY confidence DESC NULLS LAST, title"
            )
        )
        return [ReviewRow(*row) for row in rows]


async def approve(
    engine: AsyncEngine, publisher: Publisher, book_key: str, requested_by: str
) -> ev.BookRequested:
    """Ask for the gap's book; the event sent. `UnknownBookError` if no gap has the key."""
    book = await wanted_book(engine, book_key)
    if book.key != book_key:
        raise UnknownBookError(f"{book_key!r} is recorded under another key, {book.key!r}")
    payload = ev.BookRequestedPayload(book=book, requested_by=requested_by[:100] or "cli")
    event = ev.BookRequested.create(payload, producer="cli")
    await publisher.publish(event)
    return event
