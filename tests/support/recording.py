"""Driving the recorder's batch handler directly, and reading back what it recorded."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from services.recorder.handler import BatchRecorder
from shared.database import create_engine_from
from shared.events import Event
from shared.messaging import Delivery, Received, Rejected
from shared.settings import DatabaseSettings
from tests.support import databases


def received(events: Sequence[Event[Any]]) -> list[Received]:
    """Wrap events as if they had just been polled from Kafka."""
    return [
        Received(event, Delivery(event.topic, 0, offset, event.key.encode()), record=None)
        for offset, event in enumerate(events)
    ]


async def record(
    engine: AsyncEngine, events: Sequence[Event[Any]], batch_size: int = 10_000
) -> list[Rejected]:
    """Apply `events` in batches of `batch_size`; return what was rejected."""
    recorder = BatchRecorder(engine)
    rejected: list[Rejected] = []
    for start in range(0, len(events), batch_size):
        rejected += await recorder(received(events[start : start + batch_size]))
    return rejected


SNAPSHOT_QUERIES = {
    "books": """
        SELECT abs_id, title, author, series, series_number, isbn, asin, publisher,
               published_year, duration_minutes, description, metadata_completeness_percent,
               status, import_source
        FROM books ORDER BY abs_id""",
    "series": """
        SELECT name, author, asin, total_books_in_series, books_owned, books_missing,
               completion_percentage, completion_status, last_completion_check
        FROM series ORDER BY name""",
    "authors": """
        SELECT name, asin, goodreads_id, total_audiobooks_external, audiobooks_owned,
               audiobooks_missing, completion_status, last_completion_check
        FROM authors ORDER BY name""",
    "missing_books": """
        SELECT m.book_key, m.title, m.author_name, m.series_name, m.series_number,
               m.reason_missing, m.isbn, m.asin, m.goodreads_id, m.identified_date,
               m.download_status, m.priority, m.expectations, m.blocklist_cleared_at,
               s.name AS series, a.name AS author,
               b.abs_id AS book, d.missing_book_id = m.id AS download_linked
        FROM missing_books m
        LEFT JOIN series s ON s.id = m.series_id LEFT JOIN authors a ON a.id = m.author_id
        LEFT JOIN books b ON b.id = m.book_id LEFT JOIN downloads d ON d.id = m.download_id
        ORDER BY m.book_key""",
    "downloads": """
        SELECT m.book_key, d.title, d.author, d.source, d.magnet_link, d.torrent_url,
               d.qbittorrent_hash, d.qbittorrent_status, d.status, d.retry_count,
               d.max_retries, d.last_attempt, d.next_retry, d.abs_import_status,
               d.abs_import_error, d.date_queued, d.date_completed, d.release_guid,
               d.selection, d.progress, d.downloaded_bytes, d.size_bytes,
               d.speed_bytes_per_second, d.eta_seconds, d.seeders, d.leechers, d.progress_at,
               b.abs_id AS book
        FROM downloads d JOIN missing_books m ON m.id = d.missing_book_id
        LEFT JOIN books b ON b.id = d.book_id ORDER BY m.book_key""",
    "tasks": """
        SELECT run_id, task_name, scheduled_time, actual_start, actual_end, duration_seconds,
               status, items_processed, items_succeeded, items_failed, log_output,
               error_message, metadata
        FROM tasks WHERE run_id IS NOT NULL ORDER BY run_id""",
    "failed_attempts": """
        SELECT f.task_name, f.item_key, f.error_code, f.item_name, f.reason,
               f.error_details, f.first_attempt, f.last_attempt, f.attempt_count,
               f.metadata, m.book_key AS item
        FROM failed_attempts f LEFT JOIN missing_books m ON m.id = f.item_id
        ORDER BY f.task_name, f.item_key, f.error_code""",
    "blocked_releases": """
        SELECT r.book_key, r.release_key, r.info_hash, r.guid, r.indexer, r.release_title,
               r.stage, r.reason_code, r.reason, r.first_blocked_at, r.last_blocked_at,
               r.block_count, m.book_key AS gap
        FROM blocked_releases r LEFT JOIN missing_books m ON m.id = r.missing_book_id
        ORDER BY r.book_key, r.release_key""",
    "metadata_corrections": """
        SELECT b.abs_id, c.field_name, c.old_value, c.new_value, c.source, c.reason,
               c.correction_date, c.corrected_by, c.correction_id, c.status
        FROM metadata_corrections c JOIN books b ON b.id = c.book_id
        ORDER BY b.abs_id, c.correction_date, c.field_name, c.new_value""",
}


async def snapshot(connection: asyncpg.Connection) -> dict[str, list[dict[str, Any]]]:
    """Everything the recorder wrote, by natural keys (ids and audit times left out), but
    for the services' heartbeats: a running recorder records its own."""
    return {
        table: [dict(row) for row in await connection.fetch(query)]
        for table, query in SNAPSHOT_QUERIES.items()
    }


RECORDED_TABLES = (
    "blocked_releases", "metadata_corrections", "failed_attempts", "tasks", "downloads",
    "missing_books", "series", "authors", "books", "service_instances", "processed_events",
)  # fmt: skip


async def wipe(connection: asyncpg.Connection) -> None:
    """Empty every table the recorder writes."""
    await connection.execute(f"TRUNCATE {', '.join(RECORDED_TABLES)} RESTART IDENTITY CASCADE")


@asynccontextmanager
async def migrated_database(
    stack: Any, prefix: str
) -> AsyncIterator[tuple[AsyncEngine, asyncpg.Connection]]:
    """A throwaway migrated database: an engine for the recorder, a plain connection."""
    async with databases.throwaway(stack, f"{prefix}_{uuid.uuid4().hex[:8]}") as url:
        async with databases.using(url):
            await databases.migrate()
        engine = create_engine_from(DatabaseSettings(database_url=url))
        connection = await asyncpg.connect(databases.plain(url))
        try:
            yield engine, connection
        finally:
            await connection.close()
            await engine.dispose()


async def clean_record(
    stack: Any, events: Sequence[Event[Any]], batch_size: int = 2000
) -> dict[str, list[dict[str, Any]]]:
    """What a clean run gives: `events` recorded in order, in process, on a fresh
    database."""
    async with migrated_database(stack, "ref") as (engine, connection):
        await record(engine, events, batch_size=batch_size)
        return await snapshot(connection)
