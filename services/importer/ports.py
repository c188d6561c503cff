"""What the importer needs from the world, as small interfaces: the real adapters are
`shared.clients.audiobookshelf.AudiobookshelfClient` and the Kafka producer; unit tests
pass in-memory fakes."""

from __future__ import annotations

from collections.abc import Sequence
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

    async def tell_watcher(self, library_id: str, paths: Sequence[str]) -> None:
        """Tell the server's watcher these files (server paths) were added."""
        ...

    async def is_scanning(self, library_id: str) -> bool:
        """Whether a library scan of it runs (a scan asked for meanwhile is dropped)."""
        ...

    async def items_at(self, library_id: str, rel_path: str) -> list[LibraryItem]:
        """The items listed at that folder, missing ones included."""
        ...
