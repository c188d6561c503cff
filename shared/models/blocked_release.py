"""BlockedRelease: a release that failed for a book, never to be taken for it again."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.database import Base
from shared.models.columns import counter, created_timestamp, merge_versions, timestamp

if TYPE_CHECKING:
    from shared.models.missing_book import MissingBook


class BlockedRelease(Base):
    """A release (by `info_hash` and/or indexer `guid`; `release_key` is `hash:<hex>`
    when the hash is known, else `guid:<guid>`) that failed for the book `book_key`:
    at download (stalled, errored, refused by qBittorrent) or at import (wrong book,
    runtime, language, undecodable), with the latest `reason_code`.

    It blocks while `last_blocked_at` is later than the book's
    `missing_books.blocklist_cleared_at`; clearing never deletes a row, so the record
    keeps what was tried and why it failed.
    """

    __tablename__ = "blocked_releases"

    id: Mapped[int] = mapped_column(primary_key=True)
    missing_book_id: Mapped[int | None] = mapped_column(
        ForeignKey("missing_books.id", ondelete="CASCADE"), index=True
    )
    book_key: Mapped[str] = mapped_column(String(600), index=True)
    release_key: Mapped[str] = mapped_column(String(1010))
    info_hash: Mapped[str | None] = mapped_column(String(255), index=True)
    guid: Mapped[str | None] = mapped_column(String(1000))
    indexer: Mapped[str | None] = mapped_column(String(100))
    release_title: Mapped[str | None] = mapped_column(String(1000))
    stage: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str] = mapped_column(String(100), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    first_blocked_at: Mapped[datetime | None] = timestamp()
    last_blocked_at: Mapped[datetime | None] = timestamp(index=True)
    block_count: Mapped[int | None] = counter()
    created_at: Mapped[datetime | None] = created_timestamp()
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    missing_book: Mapped[MissingBook | None] = relationship()

    __table_args__ = (UniqueConstraint("book_key", "release_key"),)

    def __repr__(self) -> str:
        return (
            f"BlockedRelease(book_key={self.book_key!r}, release_key={self.release_key!r}, "
            f"reason_code={self.reason_code!r})"
        )
