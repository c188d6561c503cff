"""`abauto failures` and `abauto status` on a real record."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from typing import Any

import pytest

from ops.failures import analyse
from ops.failures_record import failure_rows
from ops.status import lines, status
from sandbox.histories import Clock, book_history, heartbeat, progress_sample
from shared.events import utc_now
from tests.support.recording import migrated_database, record

pytestmark = pytest.mark.integration


async def test_the_report_reads_the_record_and_the_command_prints_it(stack: Any) -> None:
    clock = Clock()
    history = [e for n in range(1, 5) for e in book_history(n, clock)]
    async with migrated_database(stack, "fail") as (engine, _):
        await record(engine, history)
        since = min(e.occurred_at for e in history) - timedelta(days=1)
        report = analyse(await failure_rows(engine, since), since)
        # Each history's stall was recorded twice (attempts 1 and 2), with its download's
        # indexer and its gap's author.
        assert report.by_code == {"DOWNLOAD_STALLED": 8}
        assert report.by_indexer == {"prowlarr": 8}
        assert set(report.by_author) == {"Author 1", "Author 2", "Author 3", "Author 4"}
        assert [p.what for p in report.patterns] == ["8 downloads stalled or errored"]

        url = engine.url.render_as_string(hide_password=False)
        environment = {**os.environ, "DATABASE_URL": url}
        command = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ops.cli", "failures", "--days", "36500", "--json",
            env=environment, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 0
    assert json.loads(out)["by_code"] == {"DOWNLOAD_STALLED": 8}


async def test_status_shows_what_is_wanted_queued_imported_and_failing(stack: Any) -> None:
    clock = Clock()
    imported = book_history(1, clock)  # the whole life: imported
    abandoned = book_history(2, clock, succeed=False)
    queued = book_history(3, clock)[:8]  # up to its second "download queued"
    async with migrated_database(stack, "status") as (engine, _):
        await record(engine, [*imported, *abandoned, *queued])
        now = max(e.occurred_at for e in imported) + timedelta(hours=1)
        found = await status(engine, now)
        url = engine.url.render_as_string(hide_password=False)
        command = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ops.cli", "status", "--days", "36500",
            env={**os.environ, "DATABASE_URL": url}, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(command.communicate(), 60)
    assert [r["title"] for r in found["queue"]] == ["Volume 3"]
    assert [r["title"] for r in found["imported"]] == ["Volume 1"]
    assert [(r["title"], r["status"]) for r in found["failing"]] == [("Volume 2", "abandoned")]
    # Volume 3 (priority 1) and the abandoned Volume 2 (priority 3) are still wanted.
    assert [(r["reason_missing"], r["priority"], r["books"]) for r in found["wanted"]] == [
        ("series_gap", 1, 1), ("series_gap", 3, 1),
    ]  # fmt: skip
    assert {r["task_name"] for r in found["jobs"]} == {"DOWNLOAD"}
    assert command.returncode == 0
    text = out.decode()
    assert "Volume 3: queued" in text
    assert "Volume 2: abandoned" in text


async def _status_text(engine: Any) -> str:
    """What `abauto status` prints, run as the operator runs it (now, by the wall clock)."""
    url = engine.url.render_as_string(hide_password=False)
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops.cli", "status",
        env={**os.environ, "DATABASE_URL": url}, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 0
    return out.decode()


async def test_status_shows_each_downloads_progress_and_each_services_liveness(
    stack: Any,
) -> None:
    now = utc_now().replace(microsecond=0)
    history = book_history(3, Clock(now - timedelta(hours=1)))[:8]  # to its second "queued"
    book, info_hash = history[0].payload.book, history[7].payload.info_hash
    sampled = now - timedelta(seconds=25)
    recorded = [
        *history,
        progress_sample(book, info_hash, sampled - timedelta(seconds=30), 0.2),
        progress_sample(book, info_hash, sampled, 0.42, state="stalledDL"),
        heartbeat("recorder", now - timedelta(seconds=5)),
        heartbeat("downloader", now - timedelta(seconds=10), ready=False,
                  unavailable={"qBittorrent and the indexers": "qBittorrent unreachable"}),
        heartbeat("discovery", now - timedelta(minutes=10)),
    ]  # fmt: skip
    async with migrated_database(stack, "status") as (engine, _):
        await record(engine, recorded)
        found = await status(engine, now)
        text = await _status_text(engine)
        later = await status(engine, now + timedelta(minutes=10))  # the recorder went away

    [queued] = found["queue"]
    assert (queued["title"], queued["status"], queued["source"]) == (
        "Volume 3", "downloading", "prowlarr",
    )  # fmt: skip
    assert (queued["progress"], queued["eta_seconds"], queued["speed_bytes_per_second"]) == (
        0.42, 116, 2_000_000,
    )  # fmt: skip
    assert queued["sample_age_seconds"] == 25
    assert found["record"] == {"age_seconds": 5, "behind": False}
    services = {s["service"]: s for s in found["services"]}
    assert [s["service"] for s in found["services"]] == [
        "recorder", "discovery", "downloader", "importer",
    ]  # fmt: skip
    assert {name: s["state"] for name, s in services.items()} == {
        "recorder": "alive", "discovery": "stale", "downloader": "alive", "importer": "never seen",
    }  # fmt: skip
    assert services["downloader"]["problems"] == {
        "qBittorrent and the indexers": "unavailable: qBittorrent unreachable"
    }
    assert services["discovery"]["seen_ago_seconds"] == 600

    shown = lines(found)
    assert (
        "  Volume 3: downloading 42% of 381 MiB at 1.9 MiB/s, ETA 2 min (stalledDL, 5 seeders;"
        " sampled 25 s ago) from prowlarr" in shown
    )
    assert shown[:5] == [
        "Services (the record is 5 s old):",
        "  recorder: alive, ready — seen 5 s ago",
        "  discovery: stale, last seen 10 min ago (it missed 3 heartbeats or more)",
        "  downloader: alive, not ready: qBittorrent and the indexers unavailable: qBittorrent"
        " unreachable — seen 10 s ago",
        "  importer: never seen",
    ]
    # The command, a moment later by the wall clock, says the same.
    assert "Volume 3: downloading 42% of 381 MiB at 1.9 MiB/s, ETA 2 min" in text
    assert "  recorder: alive, ready" in text
    assert "  discovery: stale, last seen 10 min ago" in text
    assert "  importer: never seen" in text

    # Ten minutes on, nothing newer recorded: the record says how old it is, and why
    # every service now looks stale.
    assert later["record"] == {"age_seconds": 605, "behind": True}
    assert {s["state"] for s in later["services"]} == {"stale", "never seen"}
    assert lines(later)[0].startswith(
        "Services — the record is 10 min old: nothing newer has reached it. Is the recorder"
    )
