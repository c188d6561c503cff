"""How complete a book's metadata is (the seed's `metadata_completeness_percent`): the
share of `COMPLETENESS_COLUMNS` of its books row that have a value.

One rule for everyone: the recorder stores it for every book it records from a "book
discovered", and discovery's METADATA job reports it for the books it checks, from the
same payload, so the two always agree."""

from __future__ import annotations

from typing import Any

from shared import events as ev

COMPLETENESS_COLUMNS = (
    "title", "author", "series", "isbn", "asin", "publisher", "published_year",
    "duration_minutes", "description",
)  # fmt: skip


def library_columns(p: ev.BookDiscoveredPayload) -> dict[str, Any]:
    """The books row's library columns a "book discovered" sets (its first series is the
    row's series)."""
    first = p.series[0] if p.series else None
    return {
        "title": p.title,
        "author": ", ".join(p.authors) or None,
        "series": first.name if first else None,
        "series_number": first.sequence if first else None,
        "isbn": p.isbn,
        "asin": p.asin,
        "publisher": p.publisher,
        "published_year": p.published_year,
        "duration_minutes": p.duration_minutes,
        "description": p.description,
    }


def completeness(columns: dict[str, Any]) -> int:
    """Percent of the completeness columns that are filled."""
    filled = sum(1 for name in COMPLETENESS_COLUMNS if columns.get(name) not in (None, ""))
    return round(100 * filled / len(COMPLETENESS_COLUMNS))
