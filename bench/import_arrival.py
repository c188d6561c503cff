"""How long a placed book folder takes to become its Audiobookshelf item, as the importer
waits for it, on a server that is busy the way the real one is.

    make bench-import        (python -m bench.import_arrival [--runs N])

Against the fake Audiobookshelf (real HTTP over loopback, real ffprobe on real audio):

- *busy watcher*: every change keeps a `watcher-scan` task listed for 12 s (the real
  server's watcher runs 10-12 s after any change in a library folder);
- *concurrent scan*: a 3 s library scan is running when the import asks for its own,
  which the server drops ("Already scanning").

Each case is timed with the importer's way (`services.importer.arrival`: wait for this
folder to become one present item, re-ask a dropped scan) and, as the baseline in the
same run, with the previous way (wait for an empty task list, then look once). The last
line is machine-readable:
busy_watcher_s=<s> concurrent_scan_s=<s> baseline_busy_watcher_s=<s> baseline_concurrent_scan_s=<s>
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from pydantic import SecretStr

from sandbox.audio import AudioTags, write_audio
from sandbox.audiobookshelf import FakeAudiobookshelf
from services.importer.arrival import Patience, arrival
from shared.clients.audiobookshelf import AudiobookshelfClient
from shared.http import HttpSettings, PoliteHttp

KEY = "bench-abs-key"
AUTHOR = "Mara Quill"
WATCHER_S = 12.0
LONG_SCAN_S = 3.0
TIMEOUT_S = 60.0

Way = Callable[[AudiobookshelfClient, str, str], Awaitable[bool]]


async def importer_way(client: AudiobookshelfClient, library_id: str, rel: str) -> bool:
    """The importer's: this folder, one present item, dropped scans asked again."""
    item = await arrival(client, library_id, rel, Patience(timeout_s=TIMEOUT_S))
    return item.rel_path == rel


async def previous_way(client: AudiobookshelfClient, library_id: str, rel: str) -> bool:
    """The baseline: scan, wait until no task at all is listed, then look once."""
    await client.scan(library_id)
    deadline = time.monotonic() + TIMEOUT_S
    while await client.tasks() and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.25)  # the previous importer's polling interval
    return await client.find_item_by_rel_path(library_id, rel) is not None


async def _one(root: Path, n: int, case: str, way: Way) -> float:
    library = root / f"{case}-{way.__name__}-{n}"
    async with FakeAudiobookshelf(library, KEY) as server, PoliteHttp(HttpSettings()) as http:
        write_audio(library / AUTHOR / "Vol. 1 - Owned" / "Owned.m4b", _tags("Owned"))
        await server.scan_now()
        client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
        [lib] = await client.libraries()
        if case == "busy_watcher":
            server.watcher_seconds = WATCHER_S
        else:
            server.scan_seconds = LONG_SCAN_S
            walked = server.walks
            await client.scan(lib.id)  # someone else's scan: it reads the library first
            while server.walks == walked:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # until that scan has read past our folder
        rel = f"{AUTHOR}/The Lantern Keepers/Vol. {n + 2} - New {n}"
        start = time.monotonic()
        write_audio(library / rel / f"New {n}.m4b", _tags(f"New {n}"))
        found = await way(client, lib.id, rel)
        elapsed = time.monotonic() - start
        return elapsed if found else float("inf")


def _tags(title: str) -> AudioTags:
    return AudioTags(title=title, author=AUTHOR, album=title)


async def _median(root: Path, runs: int, case: str, way: Way) -> float:
    return statistics.median([await _one(root, n, case, way) for n in range(runs)])


async def main(runs: int) -> None:
    """Time both cases both ways and print the figures."""
    with tempfile.TemporaryDirectory(prefix="abauto-bench-import-") as tmp:
        root = Path(tmp)
        figures = {
            "busy_watcher_s": await _median(root, runs, "busy_watcher", importer_way),
            "concurrent_scan_s": await _median(root, runs, "concurrent_scan", importer_way),
            "baseline_busy_watcher_s": await _median(root, runs, "busy_watcher", previous_way),
            "baseline_concurrent_scan_s": await _median(
                root, runs, "concurrent_scan", previous_way
            ),
        }
    print(" ".join(f"{name}={value:.2f}" for name, value in figures.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args().runs))
