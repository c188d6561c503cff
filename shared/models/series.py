"""Series: a book series and how complete the library's copy of it is."""

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


class Series(Base):
    """A series, with the external catalogue's size and the owned/missing counts.

    `completion_status` is one of complete, partial, incomplete.
    """

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500), unique=True, index=True)
    author: Mapped[str | None] = mapped_column(String(500))
    goodreads_id: Mapped[str | None] = mapped_column(String(255), index=True)
    total_books_in_series: Mapped[int | None]
    books_owned: Mapped[int | None] = counter()
    books_missing: Mapped[int | None] = counter()
    completion_percentage: Mapped[int | None] = counter()
    last_completion_check: Mapped[datetime | None] = timestamp()
    completion_status: Mapped[str | None] = mapped_column(String(100), index=True)
    date_created: Mapped[datetime | None] = created_timestamp()
    date_updated: Mapped[datetime | None] = updated_timestamp()
    asin: Mapped[str | None] = mapped_column(String(50))
    """The Audible catalogue's ASIN for this entry, when known."""
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    missing_books: Mapped[list[MissingBook]] = relationship(
        back_populates="series", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"Series(id={self.id!r}, name={self.name!r})"
