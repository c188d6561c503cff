"""What the library owns: audiobooks. Pure.

A book library in Audiobookshelf also lists ebook-only items (an epub, no audio files).
Owning the ebook is not owning the audiobook: such an item is neither a "book discovered"
nor a position a series holds, so its audiobook is still looked for. Each job that
leaves items out says so in its task details (`ebook_only`, a count, and
`ebook_only_titles`, the first few) and in one line of its log.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.clients.audiobookshelf import LibraryItem

TITLES_SHOWN = 20
"""How many skipped titles a run's details and log name (a library may hold thousands)."""


def audiobooks(items: Iterable[LibraryItem]) -> tuple[list[LibraryItem], list[LibraryItem]]:
    """The items that are audiobooks, and the ebook-only ones left out."""
    held: list[LibraryItem] = []
    skipped: list[LibraryItem] = []
    for item in items:
        (held if item.has_audio else skipped).append(item)
    return held, skipped


def skipped_details(skipped: Iterable[LibraryItem]) -> dict[str, Any]:
    """The task details saying which items were left out as ebook-only."""
    titles = sorted(item.title for item in skipped)
    return {"ebook_only": len(titles), "ebook_only_titles": titles[:TITLES_SHOWN]}


def skipped_note(skipped: Iterable[LibraryItem]) -> str | None:
    """One log line naming the items left out as ebook-only, or None when there were none."""
    titles = sorted(item.title for item in skipped)
    if not titles:
        return None
    shown = "; ".join(titles[:TITLES_SHOWN])
    more = f" and {len(titles) - TITLES_SHOWN} more" if len(titles) > TITLES_SHOWN else ""
    return f"{len(titles)} ebook-only items skipped (no audio, not owned): {shown}{more}"
