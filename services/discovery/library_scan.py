"""The LIBRARY_SCAN job: every audiobook of the Audiobookshelf library becomes a "book
discovered" (with an incremental sync, `library_sync.py`, only those read afresh: new,
changed, or unknown to the record); a book the record holds that the library no longer
has (as an audiobook) becomes a "book removed". Ebook-only items are left out
(`ownership.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from typing import Any

from services.discovery.ownership import audiobooks, skipped_details, skipped_note
from shared import events as ev
from shared.clients.audiobookshelf import AudiobookshelfClient, LibraryItem
from shared.task_runs import Publisher, TaskRun

PRODUCER = "discovery"
PUBLISHED_TOGETHER = 2000
"""Events made and published at a time."""


def discovered(item: LibraryItem) -> ev.BookDiscoveredPayload:
    """The "book discovered" payload of one expanded library item."""
    duration = item.duration_seconds
    return ev.BookDiscoveredPayload(
        abs_id=item.id,
        library_id=item.library_id,
        title=item.title,
        subtitle=item.subtitle,
        authors=list(item.authors),
        narrators=list(item.narrators),
        series=[ev.SeriesPosition(name=name, sequence=sequence) for name, sequence in item.series],
        isbn=item.isbn,
        asin=item.asin,
        publisher=item.publisher,
        published_year=item.published_year,
        duration_minutes=round(duration / 60) if duration is not None else None,
        description=item.description,
        path=item.path,
    )


async def read_libraries(
    client: AudiobookshelfClient, library_ids: Sequence[str]
) -> dict[str, list[LibraryItem]]:
    """Every item of the configured libraries (all book libraries when none is named)."""
    if not library_ids:
        library_ids = [lib.id for lib in await client.libraries() if lib.media_type == "book"]
    return {library_id: await client.all_books(library_id) for library_id in library_ids}


async def scan_library(
    libraries: dict[str, list[LibraryItem]],
    present: set[str],
    publisher: Publisher,
    run: TaskRun,
    fresh: Set[str] | None = None,
) -> list[LibraryItem]:
    """Publish what the library holds (of it, only the `fresh` items when given) and
    what left it; return the audiobooks it holds."""
    listed = [item for items in libraries.values() for item in items if not item.is_missing]
    held, skipped = audiobooks(listed)
    correlation = run.correlation_id
    published = 0
    new = [item for item in held if fresh is None or item.id in fresh]
    for start in range(0, len(new), PUBLISHED_TOGETHER):  # not 20,000 events in memory
        await publisher.publish_many(
            ev.BookDiscovered.create(
                discovered(item), producer=PRODUCER, correlation_id=correlation
            )
            for item in new[start : start + PUBLISHED_TOGETHER]
        )
        published += len(new[start : start + PUBLISHED_TOGETHER])
    gone = present - {item.id for item in held}
    events: list[ev.Event[Any]] = [
        ev.BookRemoved.create(
            ev.BookRemovedPayload(abs_id=abs_id, library_id=library_id),
            producer=PRODUCER,
            correlation_id=correlation,
        )
        for library_id, abs_id in _removed(libraries, gone)
    ]
    await publisher.publish_many(events)
    run.processed += len(held)
    run.succeeded += len(held)
    run.details.update(
        books=len(held), discovered=published, removed=len(gone), **skipped_details(skipped)
    )
    run.note(
        f"{len(held)} books in the library ({published} new, changed or not yet recorded), "
        f"{len(gone)} removed since the last scan"
    )
    if note := skipped_note(skipped):
        run.note(note)
    return held


def _removed(libraries: dict[str, list[LibraryItem]], gone: Iterable[str]) -> list[tuple[str, str]]:
    """(library id, item id) of each book gone; a missing item names its library."""
    where = {item.id: library_id for library_id, items in libraries.items() for item in items}
    fallback = next(iter(libraries), "unknown")
    return [(where.get(abs_id, fallback), abs_id) for abs_id in sorted(gone)]
