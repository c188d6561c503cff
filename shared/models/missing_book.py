"""MissingBook: a gap found in a series or an author's catalogue, and its download state."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Float, ForeignKey, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.database import Base
from shared.models.columns import created_timestamp, merge_versions, timestamp

if TYPE_CHECKING:
    from shared.models.author import Author
    from shared.models.book import Book
    from shared.models.download import Download
    from shared.models.series import Series


class MissingBook(Base):
    """A book the library lacks: why (`reason_missing`: series_gap, author_gap), how urgent
    (`priority` 1 high, 2 medium, 3 low) and how far its download got (`download_status`:
    identified, needs_review — recorded, not downloaded until asked for — queued,
    downloading, completed, imported, failed).

    `book_id` is set once the book is in the library. The one-to-one with `Download` is
    owned by `downloads.missing_book_id` (unique); `download_id` is a denormalised pointer
    to that same download, kept because no column of the original schema may be dropped.
    """

    __tablename__ = "missing_books"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(
        ForeignKey("books.id", ondelete="SET NULL"), index=True
    )
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("series.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("authors.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(500))
    author_name: Mapped[str | None] = mapped_column(String(500))
    series_name: Mapped[str | None] = mapped_column(String(500))
    series_number: Mapped[str | None] = mapped_column(String(50))
    reason_missing: Mapped[str] = mapped_column(String(100))
    isbn: Mapped[str | None] = mapped_column(String(50))
    asin: Mapped[str | None] = mapped_column(String(50))
    goodreads_id: Mapped[str | None] = mapped_column(String(255))
    identified_date: Mapped[datetime | None] = created_timestamp(index=True)
    download_status: Mapped[str | None] = mapped_column(
        String(100), default="identified", server_default=text("'identified'"), index=True
    )
    download_id: Mapped[int | None] = mapped_column(
        ForeignKey("downloads.id", ondelete="SET NULL", use_alter=True)
    )
    priority: Mapped[int | None] = mapped_column(default=1, server_default=text("1"))
    book_key: Mapped[str | None] = mapped_column(String(600), unique=True)
    """Natural key of the wanted book (`asin:…` or `book:<author>/<title>`): one gap per book."""
    confidence: Mapped[float | None] = mapped_column(Float())
    """How sure discovery is that the library lacks the book (0 to 1); NULL: not said."""
    evidence: Mapped[str | None] = mapped_column(Text)
    """Why the gap exists, in words."""
    expectations: Mapped[dict[str, Any] | None] = mapped_column(JSONB())
    """What the book is like (`events.Expectations`: runtime, language, edition,
    narrators), for choosing a release and proving its audio; NULL when unknown."""
    blocklist_cleared_at: Mapped[datetime | None] = timestamp()
    """Releases blocklisted for this book before this moment may be taken again."""
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    book: Mapped[Book | None] = relationship(back_populates="missing_book_entries")
    series: Mapped[Series | None] = relationship(back_populates="missing_books")
    author: Mapped[Author | None] = relationship(back_populates="missing_books")
    download: Mapped[Download | None] = relationship(
        back_populates="missing_book",
        foreign_keys="Download.missing_book_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        single_parent=True,
    )

    def __repr__(self) -> str:
        return (
            f"MissingBook(id={self.id!r}, title={self.title!r}, "
            f"download_status={self.download_status!r})"
        )
