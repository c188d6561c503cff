"""FailedAttempt: the permanent record of every failure (never deleted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.database import Base
from shared.models.columns import created_timestamp, json_object, merge_versions, timestamp


class FailedAttempt(Base):
    """A failure of one task on one item: human `reason`, machine `error_code`
    (e.g. TORRENT_404), how often and when it was first and last seen.

    Permanent retention: no cleanup ever deletes these rows. The `metadata` column is
    mapped as `metadata_` and accepted as `metadata=` by the constructor.
    """

    __tablename__ = "failed_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_name: Mapped[str] = mapped_column(String(100), index=True)
    item_id: Mapped[int | None] = mapped_column(index=True)
    item_name: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(500))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_details: Mapped[str | None] = mapped_column(Text)
    first_attempt: Mapped[datetime | None] = timestamp()
    last_attempt: Mapped[datetime] = timestamp(nullable=False, index=True)
    attempt_count: Mapped[int | None] = mapped_column(
        default=1, server_default=text("1"), index=True
    )
    metadata_: Mapped[dict[str, Any] | None] = json_object("metadata")
    created_at: Mapped[datetime | None] = created_timestamp(index=True)
    item_key: Mapped[str | None] = mapped_column(String(600), index=True)
    """Natural key of the failed item; with task_name and error_code, one row per failure."""
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    __table_args__ = (
        UniqueConstraint("task_name", "item_key", "error_code", postgresql_nulls_not_distinct=True),
    )

    def __init__(self, *, metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if metadata is not None:
            kwargs["metadata_"] = metadata
        super().__init__(**kwargs)

    def __repr__(self) -> str:
        return (
            f"FailedAttempt(id={self.id!r}, task_name={self.task_name!r}, "
            f"error_code={self.error_code!r}, attempt_count={self.attempt_count!r})"
        )
