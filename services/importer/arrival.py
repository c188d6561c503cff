"""Having Audiobookshelf take in one new book folder, and knowing when it has.

The server's task list is no signal: its watcher keeps a `watcher-scan` task running for
10-12 s after any change in a library folder, and other long tasks come and go. What
counts is *this* folder becoming exactly one present item:

0. tell the server's watcher about the new files (`POST /api/watcher/update`, what it
   is for: it scans exactly them ~10 s later; a library whose watcher is off ignores
   it) and, if so configured, leave it the first `watcher_grace_s`;
1. ask for a library scan;
2. poll the newest items for the folder, skipping items marked missing;
3. while it is not there and no library scan runs, ask again (at most every
   `rescan_s`): a scan asked for while another one runs is dropped by the server
   ("Already scanning"), and a scan that started before the files were complete missed
   them;
4. two present items at one folder (overlapping scans list it twice for a while; one is
   then marked missing) is not an answer yet: wait for one of them to go.

At the deadline: `ABS_ITEM_NOT_FOUND` (the server never listed it, e.g. its audio did
not decode) or `ABS_DUPLICATE_ITEMS` — unless a library scan is still running: then the
server is busy, which is transient (`ServerBusy`): the import is tried again later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.clients.audiobookshelf import LibraryItem
from shared.faults import Unavailable


class Arrivals(Protocol):
    """The Audiobookshelf calls this needs."""

    async def tell_watcher(self, library_id: str, paths: Sequence[str]) -> None:
        """Tell the server's watcher these files were added."""
        ...

    async def scan(self, library_id: str) -> None:
        """Ask for a library scan."""
        ...

    async def is_scanning(self, library_id: str) -> bool:
        """Whether a library scan of it runs."""
        ...

    async def items_at(self, library_id: str, rel_path: str) -> list[LibraryItem]:
        """The items listed at that folder, missing ones included."""
        ...


@dataclass(frozen=True)
class Patience:
    """How long to wait for a folder to become an item, and how often to look."""

    timeout_s: float
    poll_s: float = 0.25
    rescan_s: float = 2.0
    watcher_grace_s: float = 0.0
    """How long to leave it to the server's watcher (told of the new files) before
    asking for a library scan: 0 scans at once (fast on a small library); on a large
    library, whose scans take minutes, ~15 s lets the watcher do it (it scans ~10 s after
    being told)."""


class ServerBusy(Unavailable):
    """The deadline passed while the server was still scanning: transient."""


class NotArrived(Exception):  # noqa: N818  (an outcome, named as one)
    """The folder did not become exactly one item in time; `code` says how."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


async def arrival(
    server: Arrivals,
    library_id: str,
    rel_path: str,
    patience: Patience,
    watched: Sequence[str] = (),
) -> LibraryItem:
    """Tell the server's watcher of the `watched` files (server paths), give it
    `watcher_grace_s`, then have the server scan until the folder at `rel_path` is one
    present item; return it."""
    start = time.monotonic()
    if watched:
        await server.tell_watcher(library_id, watched)
    while time.monotonic() - start < patience.watcher_grace_s:
        if (item := _the_one(await server.items_at(library_id, rel_path))) is not None:
            return item
        await asyncio.sleep(patience.poll_s)  # the watcher's turn, bounded by its grace
    await server.scan(library_id)
    asked = time.monotonic()
    while True:
        listed = await server.items_at(library_id, rel_path)
        present = [item for item in listed if not item.is_missing]
        if len(present) == 1:
            return present[0]
        now = time.monotonic()
        if now - start >= patience.timeout_s:
            if not present and await server.is_scanning(library_id):
                # A scan of a large library can outlast the timeout: the server is busy,
                # not refusing the book. The import is tried again later.
                raise ServerBusy(
                    f"Audiobookshelf is still scanning after {patience.timeout_s:.0f}s"
                )
            raise _not_arrived(present, patience.timeout_s)
        due = not present and now - asked >= patience.rescan_s
        if due and not await server.is_scanning(library_id):
            await server.scan(library_id)  # ours was dropped, or came too early
            asked = now
        # polling the server's item list, bounded by the deadline
        await asyncio.sleep(min(patience.poll_s, patience.timeout_s - (now - start)))


def _the_one(listed: list[LibraryItem]) -> LibraryItem | None:
    present = [item for item in listed if not item.is_missing]
    return present[0] if len(present) == 1 else None


def _not_arrived(present: list[LibraryItem], timeout_s: float) -> NotArrived:
    if present:
        ids = ", ".join(item.id for item in present)
        return NotArrived(
            "ABS_DUPLICATE_ITEMS",
            f"Audiobookshelf still lists the folder as {len(present)} items ({ids}) "
            f"after {timeout_s:.0f}s",
        )
    return NotArrived(
        "ABS_ITEM_NOT_FOUND",
        f"Audiobookshelf did not list the new folder within {timeout_s:.0f}s "
        "(does its audio decode?)",
    )
