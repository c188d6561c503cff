"""`abauto status`: what the system is doing, from the record (read-only) — like the *arr
tools' Wanted, Queue and History pages, in a terminal.

Services: each one alive, stale or never seen, from its heartbeats (`liveness.py`), and
how old the record itself is. Wanted: gaps not yet in the library, by reason and
priority. Queue: downloads in flight, with qBittorrent's latest sample (progress, speed,
ETA, state, seeders, how old the sample is) and the indexer. History: imports of the
last `days`. Trouble: downloads failed (with their next retry) or abandoned, and gaps
waiting for review. Jobs: each job's latest run."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ops.liveness import MISSED, liveness, record_age

QUERIES = {
    "wanted": """
        SELECT reason_missing, priority, count(*) AS books FROM missing_books
        WHERE book_id IS NULL AND download_status NOT IN ('imported', 'needs_review')
        GROUP BY 1, 2 ORDER BY 2, 1""",
    "queue": """
        SELECT m.book_key, m.title, d.status, d.qbittorrent_status, d.source,
               d.retry_count, d.date_queued, d.progress, d.downloaded_bytes, d.size_bytes,
               d.speed_bytes_per_second, d.eta_seconds, d.seeders, d.leechers, d.progress_at
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
    "instances": """
        SELECT service, instance_id, version, started_at, interval_seconds, ready, readiness,
               last_seen_at, stopped_at
        FROM service_instances""",
}


async def status(engine: AsyncEngine, now: datetime, days: float = 7.0) -> dict[str, Any]:
    """Every section, as JSON-able rows."""
    found: dict[str, Any] = {}
    async with engine.connect() as connection:
        for section, query in QUERIES.items():
            rows = await connection.execute(text(query), {"since": now - timedelta(days=days)})
            found[section] = [dict(row._mapping) for row in rows]
    found["review"] = found["review"][0]["books"] if found["review"] else 0
    for row in found["queue"]:
        at = row["progress_at"]
        row["sample_age_seconds"] = None if at is None else (now - at).total_seconds()
    instances = found.pop("instances")
    age = record_age(instances, now)
    found = {
        "record": {"age_seconds": age.seconds, "behind": age.behind},
        "services": [asdict(service) for service in liveness(instances, now)],
        **found,
    }
    jsonable: dict[str, Any] = _jsonable(found)
    return jsonable


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def lines(found: dict[str, Any]) -> list[str]:
    """The status for a terminal."""
    out = _services(found["record"], found["services"])
    out.append("Wanted:")
    out += [
        f"  {r['reason_missing']} (priority {r['priority']}): {r['books']}" for r in found["wanted"]
    ] or ["  nothing"]
    out.append(f"  and {found['review']} for review (`abauto review list`)")
    out.append("Queue:")
    out += [f"  {r['title']}: {_transfer(r)} from {r['source']}" for r in found["queue"]] or [
        "  empty"
    ]
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


def _services(record: dict[str, Any], services: list[dict[str, Any]]) -> list[str]:
    age = record["age_seconds"]
    if age is None:
        head = "Services: no heartbeat in the record yet (is the recorder running?)"
    elif record["behind"]:
        head = (
            f"Services — the record is {_duration(age)} old: nothing newer has reached it. "
            "Is the recorder running? (Heartbeats wait in Kafka until it is; meanwhile "
            "every service looks stale.)"
        )
    else:
        head = f"Services (the record is {_duration(age)} old):"
    return [head, *(f"  {s['service']}: {_liveness(s)}" for s in services)]


def _liveness(service: dict[str, Any]) -> str:
    if service["state"] == "never seen":
        return "never seen"
    ago = _duration(service["seen_ago_seconds"])
    if service["state"] == "stopped":
        return f"stopped {ago} ago (it said so: a clean stop)"
    if service["state"] == "stale":
        return f"stale, last seen {ago} ago (it missed {MISSED} heartbeats or more)"
    problems = "; ".join(f"{name} {why}" for name, why in service["problems"].items())
    ready = "ready" if service["ready"] else f"not ready: {problems or 'no reason given'}"
    several = service["processes_alive"]
    return f"alive, {ready} — seen {ago} ago" + (f", {several} processes" if several > 1 else "")


def _transfer(row: dict[str, Any]) -> str:
    """What qBittorrent last said of a download in the queue."""
    if row["status"] == "completed":
        return "completed, waiting for import,"
    if row["progress"] is None:
        said = row["qbittorrent_status"]
        return (
            f"{row['status']} ({said})"
            if said
            else f"{row['status']}, nothing from qBittorrent yet,"
        )
    done = f"{math.floor(row['progress'] * 1000) / 10:g}%"
    size = f" of {_size(row['size_bytes'])}" if row["size_bytes"] else ""
    speed = row["speed_bytes_per_second"]
    rate = f" at {_size(speed)}/s" if speed is not None else ""
    eta = f", ETA {_duration(row['eta_seconds'])}" if row["eta_seconds"] is not None else ", no ETA"
    peers = f", {row['seeders']} seeders" if row["seeders"] is not None else ""
    sampled = _duration(row["sample_age_seconds"] or 0)
    return (
        f"{row['status']} {done}{size}{rate}{eta} "
        f"({row['qbittorrent_status']}{peers}; sampled {sampled} ago)"
    )


def _duration(seconds: float) -> str:
    """3 s, 4 min, 2 h 5 min, 3 d."""
    whole = round(seconds)
    if whole < 90:
        return f"{whole} s"
    minutes = round(whole / 60)
    if minutes < 90:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    return f"{round(minutes / 1440)} d"


def _size(count: float) -> str:
    """Bytes in binary units, as qBittorrent shows them: 512 B, 380 MiB, 1.2 GiB."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return (
                f"{count:.0f} {unit}"
                if unit in ("B", "KiB") or count >= 100
                else f"{count:.1f} {unit}"
            )
        count /= 1024
    return f"{count:.1f} TiB"
