"""Which released positions of a series the library lacks. Pure: plain data in, plain
data out.

Positions come from the catalogue's sequence text (`sequences.py`). For each position
the catalogue lists, one representative product is kept: released before other, then
single books before anything else, unabridged before abridged, not an Audible Original
(`original_recording`), then the catalogue's own order. Box sets (`BookSeries`,
`PodcastParent`) and catalogue ranges ("1-3") never create a gap themselves.

A position is owned when a library book is one of the catalogue's products for it — by
ASIN, else by title (`titles.py`). A library book that is none of the products owns the
position the library states for it in this series (series matched by normalised name:
the catalogue's, or the library's own spelling of the same series when it differs);
an owned omnibus "1-3" covers positions 1, 2 and 3 either way.

A position is released when its representative's release date is known and not after
`today` and is not a placeholder (year ≥ 2200); an undated product counts as released
(catalogues leave old books undated more often than new ones). Unreleased positions are
"upcoming": neither owned nor missing.

Priority: 1 for the position right after the highest owned one (what the listener needs
next), 2 for a hole below the highest owned position, 3 for anything further on.

Completion: "complete" when nothing released is missing, "incomplete" when nothing
released is owned, "partial" otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.discovery.sequences import parse_sequence, sequence_text
from services.discovery.titles import titles_match
from shared.text import title_text

NOT_SINGLE_BOOKS = frozenset({"BookSeries", "PodcastParent", "PodcastSeason", "PodcastEpisode"})
PLACEHOLDER_YEAR = 2200


@dataclass(frozen=True)
class OwnedSeries:
    """A series a library book belongs to, with its position text."""

    name: str
    sequence: str | None


@dataclass(frozen=True)
class OwnedBook:
    """A library book, as far as gaps are concerned."""

    title: str
    authors: tuple[str, ...]
    asin: str | None
    series: tuple[OwnedSeries, ...]


@dataclass(frozen=True)
class CatalogueBook:
    """A catalogue product listed in a series."""

    asin: str
    title: str
    sequence: str | None
    sort: str | None
    release_date: date | None
    content_delivery_type: str | None
    format_type: str | None
    sku_lite: str | None
    authors: tuple[str, ...]
    narrators: tuple[str, ...] = ()
    runtime_minutes: int | None = None
    language: str | None = None


@dataclass(frozen=True)
class CatalogueSeries:
    """A series and every product the catalogue lists in it."""

    asin: str
    title: str
    books: tuple[CatalogueBook, ...]


@dataclass(frozen=True)
class Gap:
    """A released position the library lacks, and the product that fills it."""

    position: Decimal
    sequence: str
    book: CatalogueBook
    priority: int


@dataclass(frozen=True)
class SeriesAssessment:
    """How complete a series is."""

    series_name: str
    series_asin: str
    released_positions: int
    owned_positions: int
    gaps: tuple[Gap, ...]
    completion_status: str


def released(book: CatalogueBook, today: date) -> bool:
    """Out already (undated counts as out; placeholder and future dates do not)."""
    if book.release_date is None:
        return True
    return book.release_date.year < PLACEHOLDER_YEAR and book.release_date <= today


def _preference(book: CatalogueBook, today: date) -> tuple[bool, bool, bool, bool]:
    return (
        not released(book, today),
        book.content_delivery_type in NOT_SINGLE_BOOKS,
        (book.format_type or "unabridged").lower() == "abridged",
        (book.format_type or "").lower() == "original_recording",
    )


def representatives(series: CatalogueSeries, today: date) -> dict[Decimal, CatalogueBook]:
    """One product per single position (ranges and box sets excluded)."""
    candidates: dict[Decimal, list[CatalogueBook]] = {}
    for book in series.books:
        positions = parse_sequence(book.sequence)
        if positions is None or positions.first != positions.last:
            continue  # no position, or an omnibus: covers positions, fills none by itself
        if book.content_delivery_type in NOT_SINGLE_BOOKS:
            continue
        candidates.setdefault(positions.first, []).append(book)
    return {
        position: min(books, key=lambda b: _preference(b, today))
        for position, books in candidates.items()
    }


def owned_positions(
    series: CatalogueSeries,
    owned: Sequence[OwnedBook],
    positions: Sequence[Decimal],
    library_name: str | None = None,
) -> set[Decimal]:
    """The positions of `series` the library holds (`library_name`: the library's name
    for the series, when it spells it otherwise than the catalogue)."""
    names = {title_text(n) for n in (series.title, library_name) if n}
    held: set[Decimal] = set()
    for book in owned:
        held |= _identified(book, series, positions) or _stated(book, names, positions)
    return held


def _identified(
    book: OwnedBook, series: CatalogueSeries, positions: Sequence[Decimal]
) -> set[Decimal]:
    """Positions of the catalogue products this book is (by ASIN, else by title)."""
    held: set[Decimal] = set()
    for product in series.books:
        parsed = parse_sequence(product.sequence)
        if parsed is None:
            continue
        by_asin = book.asin is not None and book.asin == product.asin
        if by_asin or titles_match(book.title, product.title):
            held |= {p for p in positions if parsed.covers(p)}
    return held


def _stated(book: OwnedBook, names: set[str], positions: Sequence[Decimal]) -> set[Decimal]:
    """Positions the library says the book holds in this series (an omnibus: its range)."""
    held: set[Decimal] = set()
    for entry in book.series:
        stated = parse_sequence(entry.sequence)
        if stated is not None and title_text(entry.name) in names:
            held |= {p for p in positions if stated.covers(p)}
    return held


def find_gaps(
    series: CatalogueSeries,
    owned: Sequence[OwnedBook],
    today: date,
    library_name: str | None = None,
) -> SeriesAssessment:
    """Assess one series against what the library holds (`library_name`: the library's
    name for the series, see `owned_positions`)."""
    chosen = representatives(series, today)
    out = sorted(p for p, book in chosen.items() if released(book, today))
    held = owned_positions(series, owned, sorted(chosen), library_name) & set(out)
    missing = [p for p in out if p not in held]
    highest = max(held, default=None)
    next_up = next((p for p in missing if highest is None or p > highest), None)
    gaps = tuple(
        Gap(p, sequence_text(p), chosen[p], _priority(p, highest, next_up)) for p in missing
    )
    status = "complete" if not missing else "incomplete" if not held else "partial"
    return SeriesAssessment(series.title, series.asin, len(out), len(held), gaps, status)


def _priority(position: Decimal, highest: Decimal | None, next_up: Decimal | None) -> int:
    if position == next_up:
        return 1
    if highest is not None and position < highest:
        return 2
    return 3
