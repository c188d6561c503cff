"""Which services are alive, from the heartbeats in the record. Pure: rows in, verdicts
out (`status.py` reads the rows and prints).

A process is alive while its newest heartbeat is within `MISSED` of its own heartbeat
intervals; a service is as alive as its most recently seen process. Every heartbeat
reaches the record through the recorder, so the newest one of all says how current the
record itself is: when the recorder is down, every service looks stale, and the record's
age says why (the heartbeats wait in Kafka until the recorder is back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SERVICES = ("recorder", "discovery", "downloader", "importer")
MISSED = 3
"""Heartbeats a process may miss before it counts as stale."""
DEFAULT_INTERVAL_S = 30.0


@dataclass(frozen=True)
class Liveness:
    """What the record says of one service."""

    service: str
    state: str
    """alive, stale, stopped (its newest process said it was stopping) or never seen."""
    seen_ago_seconds: float | None = None
    """Since its newest heartbeat (of any of its processes)."""
    ready: bool | None = None
    """As that heartbeat said."""
    problems: dict[str, str] = field(default_factory=dict)
    """What kept it from being ready: dependency → why (away, or refusing credentials)."""
    instance_id: str | None = None
    version: str | None = None
    started_at: datetime | None = None
    processes_alive: int = 0
    """More than one: several processes of the service run at once."""


def _alive(row: Mapping[str, Any], now: datetime) -> bool:
    interval: float = row["interval_seconds"] or DEFAULT_INTERVAL_S
    silent: timedelta = now - row["last_seen_at"]
    return silent.total_seconds() <= MISSED * interval


def _stopped(row: Mapping[str, Any]) -> bool:
    stopped = row.get("stopped_at")
    return stopped is not None and stopped >= row["last_seen_at"]


def _state(row: Mapping[str, Any], now: datetime) -> str:
    if _stopped(row):
        return "stopped"
    return "alive" if _alive(row, now) else "stale"


def _problems(readiness: Mapping[str, Any] | None) -> dict[str, str]:
    said = readiness or {}
    problems = {name: f"unavailable: {why}" for name, why in said.get("unavailable", {}).items()}
    problems |= {name: f"refused: {why}" for name, why in said.get("refused", {}).items()}
    for name, passed in said.get("checks", {}).items():
        if not passed:
            problems.setdefault(name, "check failed")
    return problems


def of_service(service: str, rows: list[Mapping[str, Any]], now: datetime) -> Liveness:
    """The liveness of `service` from its processes' rows (any order)."""
    seen = [r for r in rows if r["last_seen_at"] is not None]
    if not seen:
        return Liveness(service, "never seen")
    newest = max(seen, key=lambda r: r["last_seen_at"])
    alive = sum(_alive(r, now) and not _stopped(r) for r in seen)
    return Liveness(
        service,
        _state(newest, now),
        seen_ago_seconds=max((now - newest["last_seen_at"]).total_seconds(), 0.0),
        ready=newest["ready"],
        problems=_problems(newest["readiness"]),
        instance_id=newest["instance_id"],
        version=newest["version"],
        started_at=newest["started_at"],
        processes_alive=alive,
    )


def liveness(rows: Iterable[Mapping[str, Any]], now: datetime) -> list[Liveness]:
    """Each of the four services (and any other that sent heartbeats), in that order."""
    by_service: dict[str, list[Mapping[str, Any]]] = {name: [] for name in SERVICES}
    for row in rows:
        by_service.setdefault(row["service"], []).append(row)
    return [of_service(name, found, now) for name, found in by_service.items()]


@dataclass(frozen=True)
class RecordAge:
    """How current the record is: the age of the newest heartbeat in it."""

    seconds: float | None
    """None: no heartbeat was ever recorded."""
    behind: bool
    """Older than `MISSED` heartbeat intervals: the recorder is down or far behind."""


def record_age(rows: Iterable[Mapping[str, Any]], now: datetime) -> RecordAge:
    """The age of the newest heartbeat recorded, and whether that is too old."""
    seen = [r for r in rows if r["last_seen_at"] is not None]
    if not seen:
        return RecordAge(None, behind=True)
    newest = max(seen, key=lambda r: r["last_seen_at"])
    return RecordAge(
        max((now - newest["last_seen_at"]).total_seconds(), 0.0), behind=not _alive(newest, now)
    )
