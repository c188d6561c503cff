"""`abauto run all`: every service as its own process, stopped together.

SIGTERM or SIGINT is passed on to every service, which finishes its batch, commits and
exits; if one service exits on its own, the others are stopped too and the exit status
says which one failed first.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

logger = logging.getLogger(__name__)

SERVICES = ("recorder", "discovery", "downloader", "importer")
"""Every service, in start order: the recorder first, so nothing waits to be recorded."""

STOP_TIMEOUT_S = 30.0


async def run_all(services: Sequence[str] = SERVICES) -> int:
    """Start every service, wait until a stop signal or until one exits; stop the rest."""
    processes = {
        name: await asyncio.create_subprocess_exec(sys.executable, "-m", f"services.{name}")
        for name in services
    }
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    waits = {asyncio.create_task(p.wait()): name for name, p in processes.items()}
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({*waits, stopping}, return_when=asyncio.FIRST_COMPLETED)
    first = next((waits[t] for t in done if t in waits), None)
    if first is not None:
        logger.error(
            "%s exited (%s): stopping the others",
            first,
            processes[first].returncode,
            extra={"event": "process.exited", "exited": first},
        )
    for process in processes.values():
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
    await _wait_or_kill(list(processes.values()))
    stopping.cancel()
    return 0 if first is None else (processes[first].returncode or 1)


async def _wait_or_kill(processes: list[asyncio.subprocess.Process]) -> None:
    try:
        await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), STOP_TIMEOUT_S)
    except TimeoutError:
        for process in processes:
            if process.returncode is None:
                process.kill()
        await asyncio.gather(*(p.wait() for p in processes))
