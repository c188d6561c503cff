"""Which services `abauto status` calls alive, stale or never seen, and how old it says
the record is — from heartbeat rows, without a database."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.liveness import liveness, record_age
from ops.status import lines

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _row(service: str, seconds_ago: float, *, instance: str = "", **more: Any) -> dict[str, Any]:
    return {
        "service": service, "instance_id": instance or f"{service}-host:1", "version": "0.1.0",
        "started_at": NOW - timedelta(hours=1), "interval_seconds": 30.0, "ready": True,
        "readiness": {"checks": {"kafka": True, "database": True}},
        "last_seen_at": NOW - timedelta(seconds=seconds_ago), **more,
    }  # fmt: skip


def test_alive_within_three_intervals_then_stale_and_never_seen_without_a_row() -> None:
    rows = [
        _row("recorder", 90),
        _row("discovery", 91),
        _row("importer", 500, interval_seconds=200),
    ]
    states = {s.service: s.state for s in liveness(rows, NOW)}
    assert states == {
        "recorder": "alive", "discovery": "stale", "downloader": "never seen", "importer": "alive",
    }  # fmt: skip


def test_a_service_is_its_newest_process_and_says_how_many_run() -> None:
    rows = [
        _row("downloader", 4000, instance="old-host:7", ready=True),  # a process long gone
        _row("downloader", 10, instance="a:1", ready=False,
             readiness={"checks": {"kafka": True, "database": False},
                        "refused": {"qBittorrent": "403 Forbidden"}}),
        _row("downloader", 20, instance="b:2"),
    ]  # fmt: skip
    [downloader] = [s for s in liveness(rows, NOW) if s.service == "downloader"]
    assert (downloader.state, downloader.instance_id, downloader.ready) == ("alive", "a:1", False)
    assert downloader.problems == {
        "qBittorrent": "refused: 403 Forbidden", "database": "check failed",
    }  # fmt: skip
    assert downloader.processes_alive == 2


def test_a_service_whose_newest_process_stopped_cleanly_is_stopped_not_stale() -> None:
    stopped = NOW - timedelta(seconds=600)
    rows = [
        _row("discovery", 600, stopped_at=stopped),  # said it was stopping, 10 min ago
        _row("importer", 600, instance="old:1", stopped_at=stopped),
        _row("importer", 5, instance="new:2"),  # restarted since: alive
        _row("downloader", 600, stopped_at=None),  # went silent: killed, or crashed
    ]
    states = {s.service: s.state for s in liveness(rows, NOW)}
    assert (states["discovery"], states["importer"], states["downloader"]) == (
        "stopped", "alive", "stale",
    )  # fmt: skip
    text = "\n".join(lines(_found([asdict(s) for s in liveness(rows, NOW)], 5.0, False)))
    assert "  discovery: stopped 10 min ago (it said so: a clean stop)" in text
    assert "  downloader: stale, last seen 10 min ago" in text


def test_the_record_is_as_old_as_its_newest_heartbeat() -> None:
    assert record_age([], NOW).seconds is None
    fresh = record_age([_row("recorder", 4), _row("importer", 300)], NOW)
    assert (fresh.seconds, fresh.behind) == (4, False)
    gone = record_age([_row("recorder", 400), _row("importer", 300)], NOW)
    assert (gone.seconds, gone.behind) == (300, True)


def _found(services: list[dict[str, Any]], age: float | None, behind: bool) -> dict[str, Any]:
    return {
        "record": {"age_seconds": age, "behind": behind}, "services": services, "wanted": [],
        "review": 0, "queue": [], "imported": [], "failing": [], "jobs": [],
    }  # fmt: skip


def test_the_operator_is_told_when_nothing_reached_the_record() -> None:
    never = [{"service": s, "state": "never seen"} for s in ("recorder", "importer")]
    assert lines(_found(never, None, True))[:3] == [
        "Services: no heartbeat in the record yet (is the recorder running?)",
        "  recorder: never seen",
        "  importer: never seen",
    ]


def test_a_queued_download_qbittorrent_said_nothing_of_yet() -> None:
    queued = {
        "title": "Dune", "status": "queued", "source": "mam", "qbittorrent_status": None,
        "progress": None,
    }  # fmt: skip
    found = _found([], None, True) | {"queue": [queued]}
    assert "  Dune: queued, nothing from qBittorrent yet, from mam" in lines(found)
