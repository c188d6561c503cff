"""Task: one execution of a scheduled job (30-day retention)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.database import Base
from shared.models.columns import counter, created_timestamp, json_object, merge_versions, timestamp


class Task(Base):
    """A job run: LIBRARY_SCAN, SERIES, AUTHOR, METADATA, DOWNLOAD, IMPORT, CLEANUP…

    `status` is scheduled, running, completed or failed. The `metadata` column is mapped
    as `metadata_` (the name is reserved by SQLAlchemy) and accepted as `metadata=` by the
    constructor, as in the seed's examples.
    """

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_name: Mapped[str] = mapped_column(String(100), index=True)
    scheduled_time: Mapped[datetime | None] = timestamp(index=True)
    actual_start: Mapped[datetime | None] = timestamp()
    actual_end: Mapped[datetime | None] = timestamp()
    duration_seconds: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(100), index=True)
    items_processed: Mapped[int | None] = counter()
    items_succeeded: Mapped[int | None] = counter()
    items_failed: Mapped[int | None] = counter()
    log_output: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any] | None] = json_object("metadata")
    date_created: Mapped[datetime | None] = created_timestamp(index=True)
    run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid(), unique=True)
    """Ties a run's "task started" and "task finished" events to this row."""
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    def __init__(self, *, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if metadata is not None:
            kwargs["metadata_"] = metadata
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return f"Task(id={self.id!r}, task_name={self.task_name!r}, status={self.status!r})"
