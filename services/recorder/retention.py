"""Retention: tasks and metadata corrections go after 30 days; failed attempts never.

Also prunes the processed-event record once Kafka can no longer redeliver those events,
and records the run as a CLEANUP task row.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.recorder.settings import RecorderSettings
from shared.database_errors import is_database_away

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CleanupReport:
    """How many rows one cleanup deleted."""

    tasks: int
    metadata_corrections: int
    processed_events: int


DELETE_TASKS = text(
    "DELETE FROM tasks WHERE COALESCE(actual_end, actual_start, date_created) < :cutoff"
)
DELETE_CORRECTIONS = text("DELETE FROM metadata_corrections WHERE correction_date < :cutoff")
DELETE_PROCESSED = text("DELETE FROM processed_events WHERE processed_at < :cutoff")
RECORD_RUN = text(
    "INSERT INTO tasks (task_name, scheduled_time, actual_start, actual_end, "
    "duration_seconds, status, items_processed, items_succeeded, items_failed, metadata) "
    "VALUES ('CLEANUP', :started, :started, :ended, :duration, 'completed', :total, :total, "
    "0, CAST(:details AS jsonb))"
)


async def cleanup(
    engine: AsyncEngine, settings: RecorderSettings, now: datetime | None = None
) -> CleanupReport:
    """Delete what is past retention, in one transaction, and record the run."""
    started = now or datetime.now(UTC)
    keep = started - timedelta(days=settings.retention_days)
    remember = started - timedelta(days=settings.processed_event_retention_days)
    async with engine.begin() as connection:
        tasks = (await connection.execute(DELETE_TASKS, {"cutoff": keep})).rowcount
        corrections = (await connection.execute(DELETE_CORRECTIONS, {"cutoff": keep})).rowcount
        processed = (await connection.execute(DELETE_PROCESSED, {"cutoff": remember})).rowcount
        report = CleanupReport(tasks, corrections, processed)
        ended = datetime.now(UTC)
        await connection.execute(
            RECORD_RUN,
            {
                "started": started,
                "ended": ended,
                "duration": round((ended - started).total_seconds()),
                "total": tasks + corrections + processed,
                "details": json.dumps(asdict(report)),
            },
        )
    logger.info("cleanup deleted %s", asdict(report))
    return report


async def run_periodically(
    engine: AsyncEngine, settings: RecorderSettings, stop: asyncio.Event
) -> None:
    """Run `cleanup` now and then every `cleanup_interval_hours` until `stop` is set."""
    interval = settings.cleanup_interval_hours * 3600
    while not stop.is_set():
        try:
            await cleanup(engine, settings)
        except Exception as error:
            if not is_database_away(error):
                raise
            logger.warning("cleanup skipped, database unreachable: %r", error)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
