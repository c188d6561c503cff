"""The SERIES job: for every series the library holds, ask the catalogue for the whole
series, find the released positions the library lacks, and report each new gap as a
"missing book identified" (plus a "series assessed" with the counts).

Only audiobooks hold a position: an ebook-only item is left out (`ownership.py`).
The catalogue is matched fuzzily ("Lantern Keepers" finds "The Lantern Keepers"), but an
owned series keeps the library's spelling: a gap names the library's series and the
series' author as the library writes them, so the importer files it into the existing
series folder and Audiobookshelf shows one series, not two."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.discovery import gaps
from services.discovery.catalogue import AudibleCatalogue, SeriesListing
from services.discovery.ownership import audiobooks, skipped_details, skipped_note
from shared import events as ev
from shared.clients.audiobookshelf import LibraryItem
from shared.http import HttpError
from shared.metrics import count_gaps
from shared.task_runs import HeldEvents, Publisher, TaskRun
from shared.text import series_key, title_text

logger = logging.getLogger(__name__)

PRODUCER = "discovery"
READ_AHEAD = 200
"""Series whose catalogue data is read ahead together, in batches of 50 products."""


@dataclass
class OwnedSeriesGroup:
    """The books the library holds in one series (grouped by normalised name)."""

    name: str
    books: list[LibraryItem] = field(default_factory=list)

    @property
    def author(self) -> str | None:
        """The series' main author: the first author of its first book."""
        return next((a for book in self.books for a in book.authors), None)

    @property
    def narrators(self) -> list[str]:
        """The narrators of the owned books, the most frequent first (a series read by
        one voice should stay with it)."""
        counted = Counter(n for book in self.books for n in book.narrators)
        return [name for name, _ in counted.most_common(3)]

    @property
    def asins(self) -> list[str]:
        """ASINs of the owned books, the surest way into the catalogue."""
        return [book.asin for book in self.books if book.asin]


def owned_series(items: Sequence[LibraryItem]) -> list[OwnedSeriesGroup]:
    """Every series the library holds at least one book of."""
    groups: dict[str, OwnedSeriesGroup] = {}
    for item in items:
        for name, _ in item.series:
            group = groups.setdefault(title_text(name), OwnedSeriesGroup(name))
            group.books.append(item)
    return sorted(groups.values(), key=lambda g: title_text(g.name))


def owned_book(item: LibraryItem) -> gaps.OwnedBook:
    """A library item as the gap finder sees it."""
    return gaps.OwnedBook(
        title=item.title,
        authors=tuple(item.authors),
        asin=item.asin,
        series=tuple(gaps.OwnedSeries(name, sequence) for name, sequence in item.series),
    )


def catalogue_series(listing: SeriesListing) -> gaps.CatalogueSeries:
    """A catalogue listing as the gap finder sees it."""
    return gaps.CatalogueSeries(
        asin=listing.asin,
        title=listing.title,
        books=tuple(
            gaps.CatalogueBook(
                asin=p.asin,
                title=p.title,
                sequence=p.sequence,
                sort=p.sort,
                release_date=p.release_date,
                content_delivery_type=p.content_delivery_type,
                format_type=p.format_type,
                sku_lite=p.sku_lite,
                authors=tuple(p.authors),
                narrators=p.narrators,
                runtime_minutes=p.runtime_minutes,
                language=p.language,
            )
            for p in listing.books
        ),
    )


def missing_book(
    group: OwnedSeriesGroup, gap: gaps.Gap, assessment: gaps.SeriesAssessment | None = None
) -> ev.MissingBookIdentifiedPayload:
    """The "missing book identified" payload of one gap of an owned series: the series
    and its author as the library spells them (the catalogue's author when the library
    names none), and why it is a gap. A series gap is as sure as the catalogue's listing
    (confidence 1)."""
    catalogue_author = gap.book.authors[0] if gap.book.authors else None
    book = ev.BookRef(
        title=gap.book.title,
        author=group.author or catalogue_author,
        asin=gap.book.asin,
        series=group.name,
        series_number=gap.sequence,
        expected=expectations(group, gap.book),
    )
    released = gap.book.release_date.isoformat() if gap.book.release_date else "undated"
    evidence = f"position {gap.sequence} of {group.name} in the catalogue, released {released}"
    if assessment is not None:
        evidence += (
            f"; the library holds {assessment.owned_positions} of the series' "
            f"{assessment.released_positions} released positions "
            f"(catalogue series {assessment.series_asin})"
        )
    return ev.MissingBookIdentifiedPayload(
        book=book,
        reason_missing=ev.MissingReason.SERIES_GAP,
        priority=gap.priority,
        confidence=1.0,
        evidence=evidence[:1000],
    )


def expectations(group: OwnedSeriesGroup, product: gaps.CatalogueBook) -> ev.Expectations:
    """What the gap's book is like: runtime and language from the catalogue, abridged only
    if the product filling the gap is, and the narrators of the owned books of the series
    (the catalogue's when the library names none)."""
    return ev.Expectations(
        runtime_minutes=product.runtime_minutes,
        language=product.language[:50] if product.language else None,
        abridged=True if product.format_type == "abridged" else None,
        narrators=[n[:500] for n in (group.narrators or list(product.narrators))[:20]],
    )


def assessed(
    group: OwnedSeriesGroup, assessment: gaps.SeriesAssessment
) -> ev.SeriesAssessedPayload:
    """The "series assessed" payload: how complete the series is (named as the library
    names it, like its books)."""
    return ev.SeriesAssessedPayload(
        name=group.name,
        author=group.author,
        asin=assessment.series_asin,
        total_books_in_series=assessment.released_positions,
        books_owned=assessment.owned_positions,
        books_missing=len(assessment.gaps),
        completion_status=ev.CompletionStatus(assessment.completion_status),
        checked_at=ev.utc_now(),
    )


async def check_series(
    catalogue: AudibleCatalogue,
    items: Sequence[LibraryItem],
    reported: set[str],
    publisher: Publisher,
    run: TaskRun,
    today: date,
) -> int:
    """Assess every owned series; publish new gaps; return how many were new."""
    items, skipped = audiobooks(items)
    run.details.update(skipped_details(skipped))
    if note := skipped_note(skipped):
        run.note(note)
    by_asin = {item.asin: item for item in items if item.asin}
    new = 0
    groups = owned_series(items)
    for start in range(0, len(groups), READ_AHEAD):
        chunk = groups[start : start + READ_AHEAD]
        await _read_ahead(catalogue, chunk)
        held = HeldEvents()  # a chunk's events, published together
        for group in chunk:
            new += await _check_one(catalogue, group, by_asin, reported, held, run, today)
        published = held.events
        await held.send_to(publisher)
        count_gaps(published)
    run.details["new_gaps"] = new
    run.note(f"{run.succeeded} series assessed, {new} new gaps")
    return new


async def _read_ahead(catalogue: AudibleCatalogue, groups: Sequence[OwnedSeriesGroup]) -> None:
    """Read these series' catalogue data in batches; a failure here is only logged: each
    series' own reads try again and record what fails."""
    try:
        await catalogue.prepare([(group.asins, group.name) for group in groups])
    except HttpError as error:
        logger.warning(
            "reading %d series ahead failed: %s",
            len(groups),
            error,
            extra={"event": "catalogue.read_ahead_failed", "series": len(groups)},
        )


async def _check_one(
    catalogue: AudibleCatalogue,
    group: OwnedSeriesGroup,
    by_asin: dict[str, LibraryItem],
    reported: set[str],
    publisher: Publisher,
    run: TaskRun,
    today: date,
) -> int:
    """Assess one series; publish its new gaps; return how many were new."""
    run.processed += 1
    try:
        listing = await catalogue.find_series(group.asins, group.name, group.author)
    except HttpError as error:
        await _failed(publisher, run, group, "CATALOGUE_UNAVAILABLE", str(error))
        return 0
    if listing is None:
        await _failed(publisher, run, group, "SERIES_NOT_IN_CATALOGUE", "no catalogue match")
        return 0
    series = catalogue_series(listing)
    related = {id(b): b for b in group.books}
    related |= {id(by_asin[b.asin]): by_asin[b.asin] for b in series.books if b.asin in by_asin}
    owned = [owned_book(b) for b in related.values()]
    assessment = gaps.find_gaps(series, owned, today, library_name=group.name)
    new = await _publish(publisher, run, group, assessment, reported)
    run.succeeded += 1
    return new


async def _publish(
    publisher: Publisher,
    run: TaskRun,
    group: OwnedSeriesGroup,
    assessment: gaps.SeriesAssessment,
    reported: set[str],
) -> int:
    correlation = run.correlation_id
    events: list[ev.Event[Any]] = [
        ev.SeriesAssessed.create(
            assessed(group, assessment), producer=PRODUCER, correlation_id=correlation
        )
    ]
    for gap in assessment.gaps:
        payload = missing_book(group, gap, assessment)
        if payload.book.key in reported:
            continue  # reported before: whatever became of it, not new
        reported.add(payload.book.key)
        events.append(
            ev.MissingBookIdentified.create(payload, producer=PRODUCER, correlation_id=correlation)
        )
        run.note(f"gap: {group.name} #{gap.sequence} {gap.book.title}")
        log_gap(payload)
    await publisher.publish_many(events)
    return len(events) - 1


def log_gap(payload: ev.MissingBookIdentifiedPayload) -> None:
    """One `gap.found` line for a book found missing (series or author gap)."""
    book = payload.book
    logger.info(
        "%s: missing%s (%s%s)",
        book.key,
        " (for review)" if payload.needs_review else "",
        payload.reason_missing.value,
        f", {book.series} #{book.series_number}" if book.series else "",
        extra={
            "event": "gap.found",
            "book": book.key,
            "title": book.title,
            "author": book.author,
            "series": book.series,
            "position": book.series_number,
            "reason": payload.reason_missing.value,
            "priority": payload.priority,
            "confidence": payload.confidence,
            "needs_review": payload.needs_review,
        },
    )


async def _failed(
    publisher: Publisher, run: TaskRun, group: OwnedSeriesGroup, code: str, reason: str
) -> None:
    run.failed += 1
    run.note(f"{group.name}: {code}: {reason}")
    payload = ev.FailureRecordedPayload(
        task_name=run.task_name,
        item_key=series_key(group.name),
        item_name=group.name,
        reason=reason[:500],
        error_code=code,
        details={"owned_asins": group.asins},
    )
    await publisher.publish(
        ev.FailureRecorded.create(payload, producer=PRODUCER, correlation_id=run.correlation_id)
    )
