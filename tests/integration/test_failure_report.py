"""`abauto failures` on a real record: rows joined with their book and indexer."""

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
from tests.support.histories import Clock, book_history
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
            sys.executable, "-m", "shared.cli", "failures", "--days", "36500", "--json",
            env=environment, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 0
    assert json.loads(out)["by_code"] == {"DOWNLOAD_STALLED": 8}
