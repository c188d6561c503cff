"""The baseline for the recorder: the same events' rows, written with raw asyncpg
batched upserts (`executemany`, one transaction per batch), with no Kafka, no
de-duplication and no merge rules: the least work that puts those rows in PostgreSQL."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import asyncpg

from shared import events as ev

Row = tuple[Any, ...]

MISSING = (
    "INSERT INTO missing_books (book_key, title, author_name, series_name, series_number, "
    "asin, reason_missing, priority, download_status) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) "
    "ON CONFLICT (book_key) DO UPDATE SET download_status = EXCLUDED.download_status"
)
DOWNLOAD = (
    "INSERT INTO downloads (missing_book_id, title, author, source, status, "
    "qbittorrent_hash, retry_count, last_attempt) "
    "SELECT id, $2, $3, $4, $5, $6, $7, $8 FROM missing_books WHERE book_key = $1 "
    "ON CONFLICT (missing_book_id) DO UPDATE SET status = EXCLUDED.status, "
    "qbittorrent_hash = EXCLUDED.qbittorrent_hash, retry_count = EXCLUDED.retry_count, "
    "last_attempt = EXCLUDED.last_attempt"
)
IMPORT = (
    "UPDATE downloads d SET abs_import_status = $2 FROM missing_books m "
    "WHERE m.id = d.missing_book_id AND m.book_key = $1"
)
BOOK = (
    "INSERT INTO books (abs_id, title, author, series, series_number, asin, "
    "duration_minutes) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (abs_id) DO UPDATE SET "
    "title = EXCLUDED.title, author = EXCLUDED.author, series = EXCLUDED.series"
)
SERIES = (
    "INSERT INTO series (name, author, total_books_in_series, books_owned, books_missing, "
    "completion_status) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (name) DO UPDATE SET "
    "books_owned = EXCLUDED.books_owned, books_missing = EXCLUDED.books_missing"
)
TASK = (
    "INSERT INTO tasks (run_id, task_name, status, actual_start, actual_end) "
    "VALUES ($1,$2,$3,$4,$5) ON CONFLICT (run_id) DO UPDATE SET status = EXCLUDED.status, "
    "actual_end = EXCLUDED.actual_end"
)
FAILURE = (
    "INSERT INTO failed_attempts (task_name, item_key, error_code, reason, first_attempt, "
    "last_attempt, metadata) VALUES ($1,$2,$3,$4,$5,$5,$6::text::jsonb) "
    "ON CONFLICT (task_name, item_key, error_code) DO UPDATE SET "
    "attempt_count = failed_attempts.attempt_count + 1, last_attempt = EXCLUDED.last_attempt"
)
BLOCKED = (
    "INSERT INTO blocked_releases (book_key, release_key, info_hash, guid, stage, "
    "reason_code, reason, first_blocked_at, last_blocked_at, block_count) "
    "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$8,1) ON CONFLICT (book_key, release_key) DO UPDATE SET "
    "block_count = blocked_releases.block_count + 1, last_blocked_at = EXCLUDED.last_blocked_at"
)
CLEARED = "UPDATE missing_books SET blocklist_cleared_at = $2 WHERE book_key = $1"
CORRECTION = (
    "INSERT INTO metadata_corrections (book_id, field_name, old_value, new_value, source) "
    "SELECT id, $2, $3, $4, $5 FROM books WHERE abs_id = $1"
)


def _book_row(e: Any, status: str) -> Row:
    b = e.payload.book
    return (b.key, b.title, b.author, b.series, b.series_number, b.asin, "series_gap", 1, status)


def _download_row(e: Any, status: str) -> Row:
    b = e.payload.book
    info_hash = getattr(e.payload, "info_hash", None)
    retry = getattr(e.payload, "retry", None)
    return (b.key, b.title, b.author, "prowlarr", status, info_hash,
            retry.retry_count if retry else 0, e.occurred_at)  # fmt: skip


def _statements(e: ev.Event[Any]) -> list[tuple[str, Row]]:
    p: Any = e.payload
    lifecycle = {
        ev.DownloadQueued: "queued", ev.DownloadProgressed: "downloading",
        ev.DownloadCompleted: "completed", ev.DownloadFailed: "failed",
        ev.DownloadAbandoned: "abandoned",
    }  # fmt: skip
    if type(e) in lifecycle:
        status = lifecycle[type(e)]
        return [(MISSING, _book_row(e, status)), (DOWNLOAD, _download_row(e, status))]
    handlers: dict[type[Any], Callable[[], list[tuple[str, Row]]]] = {
        ev.MissingBookIdentified: lambda: [(MISSING, _book_row(e, "identified"))],
        ev.ImportCompleted: lambda: [(IMPORT, (p.book.key, "imported"))],
        ev.BookDiscovered: lambda: [(BOOK, (p.abs_id, p.title, ", ".join(p.authors),
            p.series[0].name if p.series else None,
            p.series[0].sequence if p.series else None, p.asin, p.duration_minutes))],
        ev.SeriesAssessed: lambda: [(SERIES, (p.name, p.author, p.total_books_in_series,
            p.books_owned, p.books_missing, p.completion_status.value))],
        ev.TaskStarted: lambda: [(TASK, (p.run_id, p.task_name, "running", p.started_at, None))],
        ev.TaskFinished: lambda: [(TASK, (p.run_id, p.task_name, p.outcome.value, None,
            p.finished_at))],
        ev.FailureRecorded: lambda: [(FAILURE, (p.task_name, p.item_key, p.error_code,
            p.reason, e.occurred_at, json.dumps(p.details)))],
        ev.MetadataCorrected: lambda: [(CORRECTION, (p.abs_id, p.field_name, p.old_value,
            p.new_value, p.source))],
        ev.ReleaseBlocklisted: lambda: [(BLOCKED, (p.book.key, p.release_key, p.info_hash,
            p.guid, p.stage.value, p.reason_code, p.reason, e.occurred_at))],
        ev.BlocklistCleared: lambda: [(CLEARED, (p.book.key, e.occurred_at))],
    }  # fmt: skip
    return handlers[type(e)]() if type(e) in handlers else []


ORDER = (BOOK, SERIES, MISSING, DOWNLOAD, IMPORT, TASK, FAILURE, BLOCKED, CLEARED, CORRECTION)


async def write_baseline(url: str, events: list[ev.Event[Any]], batch: int) -> float:
    """Seconds to write every event's rows, batch by batch (the rows are built first)."""
    batches = []
    for start in range(0, len(events), batch):
        grouped: dict[str, list[Row]] = defaultdict(list)
        for event in events[start : start + batch]:
            for statement, row in _statements(event):
                grouped[statement].append(row)
        batches.append(grouped)
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        started = time.perf_counter()
        for grouped in batches:
            async with connection.transaction():
                for statement in ORDER:
                    if grouped.get(statement):
                        await connection.executemany(statement, grouped[statement])
        return time.perf_counter() - started
    finally:
        await connection.close()
