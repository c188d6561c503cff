"""`abauto status`: what the system is doing, from the record (read-only) — like the *arr
tools' Wanted, Queue and History pages, in a terminal.

Wanted: gaps not yet in the library, by reason and priority. Queue: downloads in flight
(qBittorrent's last reported state, the indexer, when queued). History: imports of the
last `days`. Trouble: downloads failed (with their next retry) or abandoned, and gaps
waiting for review. Jobs: each job's latest run (a service whose jobs stopped running is
the first sign it is down)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

QUERIES = {
    "wanted": """
        SELECT reason_missing, priority, count(*) AS books FROM missing_books
        WHERE book_id IS NULL AND download_status NOT IN ('imported', 'needs_review')
        GROUP BY 1, 2 ORDER BY 2, 1""",
    "queue": """
        SELECT m.book_key, m.title, d.status, d.qbittorrent_status, d.source,
               d.retry_count, d.date_queued
        FROM downloads d JOIN missing_books m ON m.id = d.missing_book_id
        WHERE d.status IN ('queued', 'downloading', 'completed')
          AND coalesce(d.abs_import_status, 'pending') <> 'imported'
        ORDER BY d.date_queued""",
    "imported": """
        SELECT m.book_key, m.title, d.source, d.date_completed
        FROM downloads d JOIN missing_books m ON m.id = d.missing_book_id
        WHERE d.abs_import_status = 'imported' AND d.date_completed >= :since
        ORDER BY d.date_completed DESC LIMIT 50""",
    "failing": """
        SELECT m.book_key, m.title, d.status, d.retry_count, d.max_retries, d.next_retry,
               d.abs_import_error
        FROM downloads d JOIN missing_books m ON m.id = d.missing_book_id
        WHERE d.status IN ('failed', 'abandoned') OR d.abs_import_status = 'import_failed'
        ORDER BY d.last_attempt DESC NULLS LAST LIMIT 50""",
    "review": """
        SELECT count(*) AS books FROM missing_books WHERE download_status = 'needs_review'""",
    "jobs": """
        SELECT DISTINCT ON (task_name) task_name, status, actual_start, actual_end,
               items_processed, items_failed
        FROM tasks ORDER BY task_name, actual_start DESC NULLS LAST""",
}


async def status(engine: AsyncEngine, now: datetime, days: float = 7.0) -> dict[str, Any]:
    """Every section, as JSON-able rows."""
    found: dict[str, Any] = {}
    async with engine.connect() as connection:
        for section, query in QUERIES.items():
            rows = await connection.execute(text(query), {"since": now - timedelta(days=days)})
            found[section] = [
                {
                    k: v.isoformat() if isinstance(v, datetime) else v
                    for k, v in row._mapping.items()
                }
                for row in rows
            ]
    found["review"] = found["review"][0]["books"] if found["review"] else 0
    return found


def lines(found: dict[str, Any]) -> list[str]:
    """The status for a terminal."""
    out = ["Wanted:"]
    out += [
        f"  {r['reason_missing']} (priority {r['priority']}): {r['books']}" for r in found["wanted"]
    ] or ["  nothing"]
    out.append(f"  and {found['review']} for review (`abauto review list`)")
    out.append("Queue:")
    out += [
        f"  {r['title']}: {r['status']} ({r['qbittorrent_status'] or '—'}) from {r['source']}, "
        f"queued {r['date_queued']}"
        for r in found["queue"]
    ] or ["  empty"]
    out.append("Imported recently:")
    out += [
        f"  {r['title']} ({r['date_completed']}) from {r['source']}" for r in found["imported"]
    ] or ["  nothing"]
    out.append("Failing:")
    out += [
        f"  {r['title']}: {r['status']}, {r['retry_count']} of {r['max_retries']} attempts"
        + (f", next {r['next_retry']}" if r["next_retry"] else "")
        + (f"; import: {r['abs_import_error'][:80]}" if r["abs_import_error"] else "")
        for r in found["failing"]
    ] or ["  nothing"]
    out.append("Jobs (latest run of each):")
    out += [
        f"  {r['task_name']}: {r['status']} at {r['actual_start']}, {r['items_processed']} items, "
        f"{r['items_failed']} failed"
        for r in found["jobs"]
    ] or ["  none yet"]
    return out
