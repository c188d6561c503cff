"""Book: every audiobook discovered in or imported into the library."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.database import Base
from shared.models.columns import (
    counter,
    created_timestamp,
    json_object,
    merge_versions,
    timestamp,
    updated_timestamp,
)

if TYPE_CHECKING:
    from shared.models.download import Download
    from shared.models.metadata_correction import MetadataCorrection
    from shared.models.missing_book import MissingBook


class Book(Base):
    """An audiobook in the library, with its metadata and where each field came from.

    `abs_id` is the Audiobookshelf library item id, the natural key for library sync.
    `series_number` is text ("3", "3.5", "1-3") because positions are messy.
    """

    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    abs_id: Mapped[str | None] = mapped_column(String(255), unique=True, index=True)
    title: Mapped[str] = mapped_column(String(500), index=True)
    author: Mapped[str | None] = mapped_column(String(500), index=True)
    series: Mapped[str | None] = mapped_column(String(500), index=True)
    series_number: Mapped[str | None] = mapped_column(String(50))
    isbn: Mapped[str | None] = mapped_column(String(50))
    asin: Mapped[str | None] = mapped_column(String(50))
    publisher: Mapped[str | None] = mapped_column(String(500))
    published_year: Mapped[int | None]
    duration_minutes: Mapped[int | None]
    description: Mapped[str | None] = mapped_column(Text)
    metadata_completeness_percent: Mapped[int | None] = counter()
    last_metadata_update: Mapped[datetime | None] = timestamp()
    metadata_source: Mapped[dict[str, Any] | None] = json_object()
    date_added: Mapped[datetime | None] = created_timestamp(index=True)
    date_updated: Mapped[datetime | None] = updated_timestamp()
    import_source: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str | None] = mapped_column(
        String(50), default="active", server_default=text("'active'")
    )
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    downloads: Mapped[list[Download]] = relationship(
        back_populates="book", cascade="all, delete-orphan", passive_deletes=True
    )
    missing_book_entries: Mapped[list[MissingBook]] = relationship(
        back_populates="book", passive_deletes=True
    )
    metadata_corrections: Mapped[list[MetadataCorrection]] = relationship(
        back_populates="book", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"Book(id={self.id!r}, title={self.title!r}, abs_id={self.abs_id!r})"
