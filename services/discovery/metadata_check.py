"""The METADATA job: compare every owned audiobook that has an ASIN with its catalogue
product, and publish each difference as a proposed correction ("metadata corrected",
status proposed). Where the settings say so (`correct_fill_empty`, `correct_overwrite`),
the correction is also written to Audiobookshelf at once and published as applied.

A correction already in the record is not proposed again (its id is the same whenever
it is found: `corrections.Proposal.correction_id`); one that was reverted stays
reverted. The task's details say how complete the library's metadata is, by the same
rule as the recorder's books rows (`shared.completeness`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from services.discovery import corrections
from services.discovery.catalogue import AudibleCatalogue, CatalogueProduct
from services.discovery.corrections import BookMetadata, Proposal
from services.discovery.library_scan import discovered
from services.discovery.ownership import audiobooks
from shared import events as ev
from shared.clients.audiobookshelf import (
    AudiobookshelfClient,
    AudiobookshelfNotFoundError,
    LibraryItem,
)
from shared.completeness import completeness, library_columns
from shared.http import HttpError
from shared.task_runs import HeldEvents, Publisher, TaskRun

logger = logging.getLogger(__name__)

PRODUCER = "discovery"


@dataclass(frozen=True)
class CorrectionPolicy:
    """Which corrections are written at once: empty fields filled (`fill_empty`),
    differing ones overwritten (`overwrite`), each a set of field names. By default
    none: every correction is only proposed."""

    fill_empty: frozenset[str] = frozenset()
    overwrite: frozenset[str] = frozenset()

    @classmethod
    def of(cls, fill_empty: Collection[str], overwrite: Collection[str]) -> CorrectionPolicy:
        """The policy the settings name ("all" meaning every field)."""
        every = frozenset(corrections.FIELDS)
        return cls(
            every if corrections.ALL in fill_empty else frozenset(fill_empty),
            every if corrections.ALL in overwrite else frozenset(overwrite),
        )

    def applies(self, proposal: Proposal) -> bool:
        """Whether `proposal` is written without being asked for."""
        wanted = self.fill_empty if proposal.old_value is None else self.overwrite
        return proposal.field_name in wanted


def library_metadata(item: LibraryItem) -> BookMetadata:
    """A library item's metadata, as compared."""
    return BookMetadata(
        title=item.title,
        subtitle=item.subtitle,
        authors=item.authors,
        narrators=item.narrators,
        series=item.series,
        published_year=item.published_year,
        publisher=item.publisher,
        language=item.language,
        description=item.description,
        genres=item.genres,
        isbn=item.isbn,
    )


def catalogue_metadata(product: CatalogueProduct, today: date) -> BookMetadata:
    """A catalogue product's metadata, as compared: its primary series first (the one
    named like its `publication_name`), the year of a release date not in the future
    (unannounced books carry placeholders such as 2200-01-01)."""
    series = sorted(product.series, key=lambda s: s.title != product.publication_name)
    released = product.release_date
    return BookMetadata(
        title=product.title or None,
        subtitle=product.subtitle,
        authors=product.authors,
        narrators=product.narrators,
        series=tuple((s.title, s.sequence) for s in series),
        published_year=released.year if released and released <= today else None,
        publisher=product.publisher,
        language=product.language.capitalize() if product.language else None,
        description=product.description,
        genres=product.genres,
        isbn=product.isbn,
    )


def completeness_percent(item: LibraryItem) -> int:
    """The item's `metadata_completeness_percent`, as the recorder stores it."""
    return completeness(library_columns(discovered(item)))


PUBLISH_BATCH = 2000
"""Corrections published at once (20,000 books: a round trip each would take minutes)."""


async def check_metadata(
    catalogue: AudibleCatalogue,
    library: AudiobookshelfClient,
    items: Sequence[LibraryItem],
    known: Mapping[uuid.UUID, str],
    publisher: Publisher,
    run: TaskRun,
    policy: CorrectionPolicy,
    today: date,
) -> int:
    """Compare every owned audiobook with an ASIN with the catalogue; publish each new
    correction (applying those the policy names); return how many were new."""
    books, _ = audiobooks(items)
    percents = [completeness_percent(b) for b in books]
    run.details["completeness_percent"] = round(sum(percents) / len(percents)) if percents else 0
    run.details["incomplete_books"] = sum(p < 100 for p in percents)
    with_asin = [b for b in books if b.asin]
    try:
        products = {p.asin: p for p in await catalogue.products([b.asin or "" for b in with_asin])}
    except HttpError as error:
        run.failed += 1
        run.note(f"CATALOGUE_UNAVAILABLE: {error}")
        raise
    new = applied = 0
    pending = HeldEvents()  # published in batches: one Kafka round trip each
    for book in with_asin:
        product = products.get(book.asin or "")
        run.processed += 1
        if product is None:
            run.note(f"{book.title}: ASIN {book.asin} not in the catalogue")
            continue
        found = corrections.propose(library_metadata(book), catalogue_metadata(product, today))
        fresh = [p for p in found if p.correction_id(book.id) not in known]
        due = [p for p in found if known.get(p.correction_id(book.id), "proposed") == "proposed"]
        due = [p for p in due if policy.applies(p)]
        await pending.publish_many(
            [_event(book.id, p, ev.CorrectionStatus.PROPOSED, run) for p in fresh]
        )
        for p in fresh:
            _log_correction(book, p, ev.CorrectionStatus.PROPOSED)
        if due or len(pending.events) >= PUBLISH_BATCH:
            await pending.send_to(publisher)  # proposed before applied
        applied += await _apply(library, publisher, run, book, due)
        new += len(fresh)
        run.succeeded += 1
    await pending.send_to(publisher)
    run.details |= {"new_corrections": new, "applied_corrections": applied}
    run.note(f"{run.succeeded} books compared, {new} new corrections, {applied} applied")
    return new


async def _apply(
    library: AudiobookshelfClient,
    publisher: Publisher,
    run: TaskRun,
    book: LibraryItem,
    due: Sequence[Proposal],
) -> int:
    """Write the due corrections of one book in one update; publish them applied."""
    if not due:
        return 0
    body = corrections.patch_metadata([(p.field_name, p.new_value) for p in due])
    try:
        await library.update_metadata(book.id, body)
    except AudiobookshelfNotFoundError:
        run.note(f"{book.title}: gone from Audiobookshelf, nothing applied")
        return 0
    await publisher.publish_many(
        [_event(book.id, p, ev.CorrectionStatus.APPLIED, run) for p in due]
    )
    for p in due:
        run.note(f"{book.title}: {p.field_name} corrected ({p.reason})")
        _log_correction(book, p, ev.CorrectionStatus.APPLIED)
    return len(due)


def _log_correction(book: LibraryItem, proposal: Proposal, status: ev.CorrectionStatus) -> None:
    logger.info(
        "%s: %s %s (%s)",
        book.title,
        proposal.field_name,
        status.value,
        proposal.reason,
        extra={
            "event": f"correction.{status.value}",
            "correction_id": str(proposal.correction_id(book.id)),
            "field": proposal.field_name,
            "abs_id": book.id,
            "reason": proposal.reason,
        },
    )


def _event(
    abs_id: str, proposal: Proposal, status: ev.CorrectionStatus, run: TaskRun
) -> ev.MetadataCorrected:
    payload = ev.MetadataCorrectedPayload(
        abs_id=abs_id,
        field_name=proposal.field_name,
        old_value=proposal.old_value,
        new_value=proposal.new_value,
        source=corrections.SOURCE,
        reason=proposal.reason,
        correction_id=proposal.correction_id(abs_id),
        status=status,
    )
    return ev.MetadataCorrected.create(
        payload, producer=PRODUCER, correlation_id=run.correlation_id
    )
