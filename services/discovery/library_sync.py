"""Reading the library incrementally: only what changed since the last sync is read in
full (`POST /api/items/batch/get`), the rest is known.

The server has no "changed since" filter, and no `updatedAt` sort either (its items
list orders by addedAt, title, …: `libraryItemsBookFilters.getOrder`), but each item of
the short list carries `updatedAt` (ms), which the server moves whenever a scan or an
edit changes the item. So a sync lists every item in the short form (pages of 500, a
few hundred bytes an item) and expands only those that are new, changed, or that the
record does not hold as present.

Where the last sync lives: in the discovery process (`LibrarySnapshot`), each item's
expanded form (without its description: what the series check needs) and so its
`updatedAt`. Discovery is long-lived and runs every few hours: its next run is where
the snapshot is used. The record (read only) is the other half: a book it does not hold
as present is read and published again whatever its `updatedAt`, so an event lost or
refused heals at the next run, and "book removed" is still the record's present books
the library no longer lists. After a restart the snapshot is empty and the first run
reads and publishes everything, as the very first one did (the recorder's upserts make
that harmless). No state file: nothing to mount, to lose, or to keep in step with the
record, and discovery still writes nothing but events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from shared.clients.audiobookshelf import AudiobookshelfClient, LibraryItem

PAGE = 500
"""Items per page of the short list."""


@dataclass(frozen=True)
class SyncedLibraries:
    """Every item the libraries list (missing ones flagged), and which were read now."""

    libraries: dict[str, list[LibraryItem]]
    fresh: frozenset[str]
    """Ids read in full by this sync: new, changed, or not held by the record."""


class LibrarySnapshot:
    """The library as the last sync that published it saw it."""

    def __init__(self) -> None:
        self._items: dict[str, LibraryItem] = {}

    def __len__(self) -> int:
        return len(self._items)

    async def read(
        self,
        client: AudiobookshelfClient,
        library_ids: Sequence[str],
        present: set[str] | None = None,
    ) -> SyncedLibraries:
        """Every item of the configured libraries (all book libraries when none is
        named); only those new, changed or not in `present` (the record's present books)
        are read in full."""
        if not library_ids:
            library_ids = [lib.id for lib in await client.libraries() if lib.media_type == "book"]
        libraries: dict[str, list[LibraryItem]] = {}
        fresh: set[str] = set()
        for library_id in library_ids:
            listed = [item async for item in client.library_items(library_id, PAGE)]
            stale = [i.id for i in listed if self._stale(i.id, i.updated_at, present)]
            read = {item.id: item for item in await client.expanded_items(stale)}
            fresh |= read.keys()
            known = [read.get(i.id) or self._items.get(i.id) for i in listed]
            libraries[library_id] = [item for item in known if item is not None]
        return SyncedLibraries(libraries, frozenset(fresh))

    def keep(self, synced: SyncedLibraries) -> None:
        """Remember a sync whose events were published: the next one starts from it."""
        self._items = {
            item.id: replace(item, description=None)
            for items in synced.libraries.values()
            for item in items
        }

    def _stale(self, item_id: str, updated_at: int | None, present: set[str] | None) -> bool:
        known = self._items.get(item_id)
        if known is None or updated_at is None or known.updated_at != updated_at:
            return True
        unrecorded = present is not None and item_id not in present
        return unrecorded and known.has_audio and not known.is_missing
