"""ServiceInstance: one running (or once running) service process, as its heartbeats say."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.database import Base
from shared.models.columns import json_object, merge_versions, timestamp


class ServiceInstance(Base):
    """A process of `service` (recorder, discovery, downloader, importer), keyed by
    `instance_id` (`<hostname>:<pid>`), from its heartbeats: `last_seen_at` is the newest
    heartbeat's time and only moves forward; `ready` and `readiness` (its checks, and the
    dependencies away or refusing, as its `/readyz` said) are the newest heartbeat's.

    It is alive while `last_seen_at` is within a few `interval_seconds`; none of them is
    newer than the recorder's last batch, so the newest `last_seen_at` of all also says how
    current the record is.
    """

    __tablename__ = "service_instances"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(255), unique=True)
    service: Mapped[str] = mapped_column(String(100), index=True)
    hostname: Mapped[str | None] = mapped_column(String(200))
    pid: Mapped[int | None]
    version: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[datetime | None] = timestamp()
    interval_seconds: Mapped[float | None] = mapped_column(Float)
    ready: Mapped[bool | None]
    readiness: Mapped[dict[str, Any] | None] = json_object()
    """{"checks": {name: passed}, "unavailable": {dependency: why}, "refused": {…}}."""
    first_seen_at: Mapped[datetime | None] = timestamp()
    last_seen_at: Mapped[datetime | None] = timestamp(index=True)
    stopped_at: Mapped[datetime | None] = timestamp()
    """When it said it was stopping cleanly (its last heartbeat); None while it runs, or
    if it ended otherwise (killed, crashed: then it only goes stale)."""
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    def __repr__(self) -> str:
        return (
            f"ServiceInstance(service={self.service!r}, instance_id={self.instance_id!r}, "
            f"last_seen_at={self.last_seen_at!r})"
        )
