"""MetadataCorrection: one change to a book's metadata, with source and reason."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.database import Base
from shared.models.columns import created_timestamp

if TYPE_CHECKING:
    from shared.models.book import Book


class MetadataCorrection(Base):
    """A field of a book changed from `old_value` to `new_value` by `source`
    (audible, audnexus, manual…) for `reason`. 30-day retention, except for the rows of a
    correction whose newest step is "applied": it can still be reverted.

    A correction discovery finds has a `correction_id` and one row per step of its life
    (`status` proposed, applied, reverted); a change recorded on its own has neither.
    """

    __tablename__ = "metadata_corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id", ondelete="CASCADE"), index=True)
    field_name: Mapped[str] = mapped_column(String(100), index=True)
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100), index=True)
    reason: Mapped[str | None] = mapped_column(String(255))
    correction_date: Mapped[datetime | None] = created_timestamp(index=True)
    corrected_by: Mapped[str | None] = mapped_column(
        String(100), default="system", server_default=text("'system'")
    )

    correction_id: Mapped[uuid.UUID | None] = mapped_column(Uuid(), index=True)
    status: Mapped[str | None] = mapped_column(String(20))
    """proposed, applied, reverted; NULL for rows recorded before corrections had a life."""

    book: Mapped[Book] = relationship(back_populates="metadata_corrections")

    def __repr__(self) -> str:
        return (
            f"MetadataCorrection(id={self.id!r}, book_id={self.book_id!r}, "
            f"field_name={self.field_name!r})"
        )
