"""The AUTHOR job: for the owned authors the policy monitors (`authors.AuthorPolicy`),
list their audiobooks in the catalogue, find the ones the library lacks outside the
owned series, and report each new one as a "missing book identified" (`author_gap`,
with its confidence and evidence; below the review threshold it is recorded for review,
not downloaded), plus an "author assessed" with the counts.

The catalogue has no author listing: a search by author name, paged, kept where the
product's authors carry the author's ASIN (learnt from an owned book's product). That
is one search or more per author, so each run checks at most `authors_per_run` authors,
those assessed longest ago first (the record's `authors.last_completion_check`): a
library of 4,000 authors is gone through in turns, and the catalogue is never flooded.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from services.discovery.authors import (
    AuthorAssessment,
    AuthorGap,
    AuthorPolicy,
    OwnedAuthor,
    OwnedTitle,
    assess,
    author_asin,
    monitored,
    owned_authors,
    series_texts,
    works,
)
from services.discovery.catalogue import AudibleCatalogue
from services.discovery.ownership import audiobooks
from services.discovery.series_check import log_gap
from shared import events as ev
from shared.clients.audiobookshelf import LibraryItem
from shared.faults import is_transient
from shared.http import HttpError
from shared.metrics import count_gaps
from shared.task_runs import Publisher, TaskRun
from shared.text import author_key

logger = logging.getLogger(__name__)

PRODUCER = "discovery"
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AuthorRun:
    """What one AUTHOR run may do: the policy, how many authors, how deep to search."""

    policy: AuthorPolicy
    authors_per_run: int = 50
    search_depth: int = 200


def missing_book(
    gap: AuthorGap, author: OwnedAuthor, priority: int
) -> ev.MissingBookIdentifiedPayload:
    """The "missing book identified" payload of one author gap (the author as the library
    names them)."""
    product = gap.product
    book = ev.BookRef(
        title=product.title[:500],
        author=author.name,
        asin=product.asin,
        expected=ev.Expectations(
            runtime_minutes=product.runtime_minutes,
            language=product.language[:50] if product.language else None,
            abridged=True if product.format_type == "abridged" else None,
            narrators=[n[:500] for n in product.narrators[:20]],
        ),
    )
    return ev.MissingBookIdentifiedPayload(
        book=book,
        reason_missing=ev.MissingReason.AUTHOR_GAP,
        priority=priority,
        confidence=gap.confidence,
        evidence=gap.evidence,
        needs_review=gap.needs_review,
    )


def assessed(assessment: AuthorAssessment) -> ev.AuthorAssessedPayload:
    """The "author assessed" payload."""
    return ev.AuthorAssessedPayload(
        name=assessment.name,
        asin=assessment.asin,
        total_audiobooks_external=assessment.works,
        audiobooks_owned=assessment.owned,
        audiobooks_missing=assessment.missing,
        completion_status=ev.CompletionStatus(assessment.completion_status),
        checked_at=ev.utc_now(),
    )


async def check_authors(
    catalogue: AudibleCatalogue,
    items: Sequence[LibraryItem],
    reported: set[str],
    last_checked: dict[str, datetime],
    publisher: Publisher,
    run: TaskRun,
    today: date,
    plan: AuthorRun,
) -> int:
    """Assess the monitored authors due this run; publish new gaps; return how many."""
    held, _ = audiobooks(items)
    authors = owned_authors(
        (item.authors, OwnedTitle(item.title, item.asin, tuple(n for n, _ in item.series)))
        for item in held
    )
    owned_series = series_texts(name for item in held for name, _ in item.series)
    left_out: Counter[str] = Counter()
    due = []
    for author in authors:
        why = monitored(author, plan.policy)
        if why is None:
            due.append(author)
        else:
            left_out[why.split(" of ")[0] if why.startswith("owns") else why] += 1
    due.sort(key=lambda a: last_checked.get(author_key(a.name), NEVER))
    this_run = due[: plan.authors_per_run]
    run.details.update(
        {
            "authors": len(authors),
            "monitored": len(due),
            "checked": len(this_run),
            "left_out": dict(left_out),
        }
    )
    new = review = 0
    for author in this_run:
        run.processed += 1
        try:
            assessment = await _assess(catalogue, author, owned_series, plan, today)
        except HttpError as error:
            if is_transient(error):
                raise  # the catalogue is away: the whole run is tried again soon
            await _failed(publisher, run, author, "CATALOGUE_ERROR", str(error))
            continue
        published, for_review = await _publish(publisher, run, author, assessment, reported, plan)
        new += published
        review += for_review
        run.succeeded += 1
    run.details.update({"new_gaps": new, "for_review": review})
    run.note(
        f"{run.succeeded} of {len(due)} monitored authors assessed, {new} new gaps "
        f"({review} for review)"
    )
    return new


async def _assess(
    catalogue: AudibleCatalogue,
    author: OwnedAuthor,
    owned_series: frozenset[str],
    plan: AuthorRun,
    today: date,
) -> AuthorAssessment:
    owned_products = await catalogue.products([b.asin for b in author.books if b.asin])
    asin = author_asin(author, owned_products)
    found = await catalogue.author_books(author.name, plan.search_depth)
    return assess(
        author, asin, works(author.name, asin, found, today), owned_products, owned_series,
        plan.policy, today,
    )  # fmt: skip


async def _publish(
    publisher: Publisher,
    run: TaskRun,
    author: OwnedAuthor,
    assessment: AuthorAssessment,
    reported: set[str],
    plan: AuthorRun,
) -> tuple[int, int]:
    correlation = run.correlation_id
    events: list[ev.Event[Any]] = [
        ev.AuthorAssessed.create(
            assessed(assessment), producer=PRODUCER, correlation_id=correlation
        )
    ]
    review = 0
    for gap in assessment.gaps:
        payload = missing_book(gap, author, plan.policy.priority)
        if payload.book.key in reported:
            continue  # reported before: whatever became of it, not new
        reported.add(payload.book.key)
        events.append(
            ev.MissingBookIdentified.create(payload, producer=PRODUCER, correlation_id=correlation)
        )
        review += gap.needs_review
        mark = " (for review)" if gap.needs_review else ""
        run.note(f"author gap{mark}: {author.name}: {gap.product.title} ({gap.confidence:.2f})")
        log_gap(payload)
    await publisher.publish_many(events)
    count_gaps(events)
    return len(events) - 1, review


async def _failed(
    publisher: Publisher, run: TaskRun, author: OwnedAuthor, code: str, reason: str
) -> None:
    run.failed += 1
    run.note(f"{author.name}: {code}: {reason}")
    payload = ev.FailureRecordedPayload(
        task_name=run.task_name,
        item_key=author_key(author.name)[:600],
        item_name=author.name,
        reason=reason[:500],
        error_code=code,
    )
    await publisher.publish(
        ev.FailureRecorded.create(payload, producer=PRODUCER, correlation_id=run.correlation_id)
    )
