"""What the importer needs from the world, as small interfaces: the real adapters are
`shared.clients.audiobookshelf.AudiobookshelfClient` and the Kafka producer; unit tests
pass in-memory fakes."""

from __future__ import annotations

from typing import Protocol

from shared.clients.audiobookshelf import Library, LibraryItem
from shared.task_runs import Publisher

__all__ = ["LibraryServer", "Publisher"]


class LibraryServer(Protocol):
    """The Audiobookshelf operations an import uses."""

    async def libraries(self) -> list[Library]:
        """Every library of the server."""
        ...

    async def scan(self, library_id: str) -> None:
        """Start a scan of the library."""
        ...

    async def wait_for_scan(self, library_id: str, timeout_s: float) -> None:
        """Return once the scan is over."""
        ...

    async def find_item_by_rel_path(self, library_id: str, rel_path: str) -> LibraryItem | None:
        """The item at `rel_path` in the library, if it is listed."""
        ...
