"""Author: an author and how much of their audiobook catalogue the library holds."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.database import Base
from shared.models.columns import (
    counter,
    created_timestamp,
    merge_versions,
    timestamp,
    updated_timestamp,
)

if TYPE_CHECKING:
    from shared.models.missing_book import MissingBook


class Author(Base):
    """An author, with external ids and the owned/missing audiobook counts."""

    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500), unique=True, index=True)
    goodreads_id: Mapped[str | None] = mapped_column(String(255), index=True)
    google_books_id: Mapped[str | None] = mapped_column(String(255))
    mam_author_id: Mapped[str | None] = mapped_column(String(255))
    total_audiobooks_external: Mapped[int | None]
    audiobooks_owned: Mapped[int | None] = counter()
    audiobooks_missing: Mapped[int | None] = counter()
    last_completion_check: Mapped[datetime | None] = timestamp(index=True)
    completion_status: Mapped[str | None] = mapped_column(String(100))
    date_created: Mapped[datetime | None] = created_timestamp()
    date_updated: Mapped[datetime | None] = updated_timestamp()
    asin: Mapped[str | None] = mapped_column(String(50))
    """The Audible catalogue's ASIN for this entry, when known."""
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    missing_books: Mapped[list[MissingBook]] = relationship(
        back_populates="author", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"Author(id={self.id!r}, name={self.name!r})"
