"""`abauto run all`: four processes that live and die together."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from typing import Any

import psutil
import pytest

from tests.support import databases

pytestmark = pytest.mark.integration


async def test_a_service_that_cannot_start_stops_the_others(stack: Any) -> None:
    async with databases.throwaway(stack, f"all_{uuid.uuid4().hex[:8]}") as url:
        async with databases.using(url):
            await databases.migrate()
        await _run_all_without_audiobookshelf(stack, url)


async def _run_all_without_audiobookshelf(stack: Any, url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABAUTO_ABS")}
    env |= {"KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap, "DATABASE_URL": url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ops.cli", "run", "all",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    children: list[psutil.Process] = []

    async def watch_children() -> None:
        parent = psutil.Process(process.pid)
        while process.returncode is None:
            children.extend(c for c in parent.children() if c not in children)
            await asyncio.sleep(0.05)  # sampling the process tree while it runs

    watcher = asyncio.create_task(watch_children())
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    await watcher
    assert process.returncode == 2  # discovery and the importer have no Audiobookshelf
    # Whichever refuses first stops the others, perhaps before they print anything.
    assert b"discovery: invalid settings" in stderr or b"importer: invalid settings" in stderr
    assert b"ABS_URL: Field required" in stderr
    assert b"Traceback" not in stderr
    assert b"exited (2): stopping the others" in stdout  # whichever refused first
    assert len(children) == 4
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
