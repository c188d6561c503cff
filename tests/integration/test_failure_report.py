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
from ops.status import status
from sandbox.histories import Clock, book_history
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
