"""Retention: tasks and metadata corrections go after 30 days, and so do the service
processes not heard from in as long; failed attempts never.
A correction whose newest step is "applied" keeps all its rows, however old: it can
still be reverted, so the record never loses the value it replaced.

Also prunes the processed-event record once Kafka can no longer redeliver those events,
marks as failed the task runs still `running` long after they started (their process
was killed and will never say how they ended), and records the run as a CLEANUP task row.

An abandoned run is marked without touching its merge versions: its outcome is still the
"task started" placeholder's, so a real "task finished" arriving later still wins.
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
    abandoned_tasks: int = 0
    service_instances: int = 0


DELETE_TASKS = text(
    "DELETE FROM tasks WHERE COALESCE(actual_end, actual_start, date_created) < :cutoff"
)
DELETE_CORRECTIONS = text(
    "WITH latest AS ("
    " SELECT DISTINCT ON (correction_id) correction_id, status FROM metadata_corrections"
    " WHERE correction_id IS NOT NULL"
    " ORDER BY correction_id, correction_date DESC, id DESC) "
    "DELETE FROM metadata_corrections WHERE correction_date < :cutoff "
    "AND (correction_id IS NULL OR correction_id NOT IN "
    " (SELECT correction_id FROM latest WHERE status = 'applied'))"
)
DELETE_INSTANCES = text("DELETE FROM service_instances WHERE last_seen_at < :cutoff")
DELETE_PROCESSED = text("DELETE FROM processed_events WHERE processed_at < :cutoff")
TAKE_TURN = text(
    "INSERT INTO recorder_writer AS w (id, generation) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET generation = w.generation + 1"
)
"""Like every recorder transaction (see `services.recorder.handler`): batches projected on
state this one changes reload it before writing."""
ABANDON_TASKS = text(
    "UPDATE tasks SET status = 'failed', error_message = :message "
    "WHERE status = 'running' AND COALESCE(actual_start, date_created) < :cutoff"
)
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
        await connection.execute(TAKE_TURN)
        tasks = (await connection.execute(DELETE_TASKS, {"cutoff": keep})).rowcount
        corrections = (await connection.execute(DELETE_CORRECTIONS, {"cutoff": keep})).rowcount
        processed = (await connection.execute(DELETE_PROCESSED, {"cutoff": remember})).rowcount
        abandoned = (
            await connection.execute(ABANDON_TASKS, abandon_arguments(settings, started))
        ).rowcount
        gone = (await connection.execute(DELETE_INSTANCES, {"cutoff": keep})).rowcount
        report = CleanupReport(tasks, corrections, processed, abandoned, gone)
        ended = datetime.now(UTC)
        await connection.execute(
            RECORD_RUN,
            {
                "started": started,
                "ended": ended,
                "duration": round((ended - started).total_seconds()),
                "total": tasks + corrections + processed + abandoned + gone,
                "details": json.dumps(asdict(report)),
            },
        )
    logger.info(
        "cleanup deleted %s", asdict(report), extra={"event": "record.cleanup", **asdict(report)}
    )
    return report


def abandon_arguments(settings: RecorderSettings, now: datetime) -> dict[str, object]:
    """The cutoff and message of `ABANDON_TASKS`: runs started before the cutoff are
    given up on."""
    hours = settings.abandoned_task_hours
    return {
        "cutoff": now - timedelta(hours=hours),
        "message": (
            f"abandoned: still running {hours:g} h after it started, its process was "
            "probably killed (ABAUTO_ABANDONED_TASK_HOURS); a later 'task finished' "
            "replaces this"
        ),
    }


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
            logger.warning(
                "cleanup skipped, database unreachable: %r",
                error,
                extra={"event": "record.cleanup_postponed"},
            )
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            continue
