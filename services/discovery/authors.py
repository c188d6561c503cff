"""Which audiobooks of an owned author the library lacks, outside the owned series. Pure:
plain data in, plain data out (the AUTHOR job, `author_check.py`, fetches and publishes).

Who is monitored (`AuthorPolicy`): an author with at least `min_owned` audiobooks in the
library (one book by a prolific author is no reason to want eighty), unless an allow
list names the authors to monitor; a deny list always wins. Names are compared as people
(`person_key`: "Le Guin, Ursula K." is "Ursula K. Le Guin", accents and case aside).

What counts as the author's book: a catalogue product whose authors include the
author's ASIN (learnt from an owned book's product); without a known ASIN, one whose
authors include the name — less sure. Products are folded as the series check folds a
position's editions (`gaps.py`): box sets and podcasts are dropped, and of each work
(same `sku_lite`, else same title) one product is kept — released before unreleased,
unabridged before abridged, not an Audible Original. A work in another language than
the author's owned books (as the catalogue gives it) is dropped, and so is a work of a
series the library owns (the series check's business).

Owned: a work is owned when a library book is it by ASIN, by `sku_lite` of that book's
product, or by title (`titles.py`).

A gap is a released work the library lacks (and, with `released_since`, released on or
after that date). Its confidence: 0.9 found by the author's ASIN as sole author, 0.8 as
one of several, 0.6 by name only; minus 0.2 for a title that reads like a sampler,
excerpt, interview or lecture. Below `review_below` it is recorded for review, not
downloaded. At most `max_gaps_per_run` gaps per author are reported per run, the newest
releases first (the rest wait for the next run: no flood). Priority `priority` (3, low,
by default: series gaps come first).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from services.discovery.catalogue import CatalogueProduct
from services.discovery.gaps import NOT_SINGLE_BOOKS, PLACEHOLDER_YEAR
from services.discovery.titles import titles_match
from shared.languages import language_code
from shared.text import key_text, title_text

LESSER = re.compile(
    r"\b(sampler|excerpt|preview|interview|lecture|in conversation|behind the scenes)\b", re.I
)
"""Titles that are rarely the book a collector is missing."""
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md"})


def person_key(name: str) -> str:
    """A person's name for comparison: "Last, First" read as "First Last" (not "King,
    Jr."), folded as natural keys are."""
    parts = [p.strip() for p in name.split(",")]
    if len(parts) == 2 and all(parts) and key_text(parts[1]) not in SUFFIXES:
        name = f"{parts[1]} {parts[0]}"
    return key_text(name)


@dataclass(frozen=True)
class AuthorPolicy:
    """Which authors are monitored, and how much of their catalogue is wanted."""

    min_owned: int = 2
    allow: frozenset[str] = frozenset()
    """Authors (`person_key`) to monitor whatever they own; empty: by `min_owned`."""
    deny: frozenset[str] = frozenset()
    """Authors (`person_key`) never monitored."""
    max_gaps_per_run: int = 5
    released_since: date | None = None
    review_below: float = 0.75
    priority: int = 3

    @classmethod
    def of(
        cls, *, allow: Iterable[str] = (), deny: Iterable[str] = (), **rest: object
    ) -> AuthorPolicy:
        """A policy with allow/deny lists given as plain author names."""
        return cls(
            allow=frozenset(person_key(n) for n in allow),
            deny=frozenset(person_key(n) for n in deny),
            **rest,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class OwnedTitle:
    """A library audiobook, as the author check sees it."""

    title: str
    asin: str | None
    series: tuple[str, ...]


@dataclass
class OwnedAuthor:
    """An author of library audiobooks, as the library names them."""

    name: str
    books: list[OwnedTitle] = field(default_factory=list)


@dataclass(frozen=True)
class Work:
    """One of the author's works in the catalogue, its editions folded into one product."""

    product: CatalogueProduct
    editions: int
    by_asin: bool
    sole_author: bool


@dataclass(frozen=True)
class AuthorGap:
    """A work the library lacks, how sure that is, and why."""

    product: CatalogueProduct
    confidence: float
    evidence: str
    needs_review: bool


@dataclass(frozen=True)
class AuthorAssessment:
    """How much of an author's catalogue (outside the owned series) the library holds."""

    name: str
    asin: str | None
    works: int
    """Released works in the catalogue, editions folded, owned series' books included."""
    owned: int
    gaps: tuple[AuthorGap, ...]
    """The gaps reported this run (at most the policy's cap)."""
    missing: int
    """Every released work the library lacks outside its series (capped or not)."""
    in_owned_series: int

    @property
    def completion_status(self) -> str:
        """complete, partial or incomplete, as for a series."""
        if not self.missing:
            return "complete"
        return "incomplete" if not self.owned else "partial"


def owned_authors(books: Iterable[tuple[Sequence[str], OwnedTitle]]) -> list[OwnedAuthor]:
    """Every author of the library's audiobooks (each author of a co-written book)."""
    found: dict[str, OwnedAuthor] = {}
    for authors, book in books:
        for name in authors:
            found.setdefault(person_key(name), OwnedAuthor(name)).books.append(book)
    return sorted(found.values(), key=lambda a: person_key(a.name))


def monitored(author: OwnedAuthor, policy: AuthorPolicy) -> str | None:
    """Why `author` is not monitored ("denied", "not allowed", "owns 1 of 2"), or None."""
    key = person_key(author.name)
    if key in policy.deny:
        return "denied"
    if policy.allow:
        return None if key in policy.allow else "not allowed"
    if len(author.books) < policy.min_owned:
        return f"owns {len(author.books)} of {policy.min_owned}"
    return None


def author_asin(author: OwnedAuthor, owned_products: Iterable[CatalogueProduct]) -> str | None:
    """The author's catalogue ASIN, as the owned books' products name it."""
    key = person_key(author.name)
    for product in owned_products:
        for name, asin in zip(product.authors, product.author_asins, strict=False):
            if asin and person_key(name) == key:
                return asin
    return None


def works(
    name: str, asin: str | None, products: Iterable[CatalogueProduct], today: date
) -> list[Work]:
    """The author's works among `products`, one product per work."""
    key = person_key(name)
    grouped: dict[str, list[tuple[CatalogueProduct, bool]]] = {}
    for product in products:
        if product.content_delivery_type in NOT_SINGLE_BOOKS:
            continue
        by_asin = asin is not None and asin in product.author_asins
        by_name = any(person_key(n) == key for n in product.authors)
        if not (by_asin or (asin is None and by_name)):
            continue
        work = product.sku_lite or title_text(product.title)
        grouped.setdefault(work, []).append((product, by_asin))
    kept = []
    for editions in grouped.values():
        product, by_asin = min(editions, key=lambda e: _preference(e[0], today))
        kept.append(Work(product, len(editions), by_asin, len(product.authors) == 1))
    return kept


def _preference(product: CatalogueProduct, today: date) -> tuple[bool, bool, bool]:
    return (
        not released(product, today),
        (product.format_type or "unabridged").lower() == "abridged",
        (product.format_type or "").lower() == "original_recording",
    )


def released(product: CatalogueProduct, today: date) -> bool:
    """Out already (undated counts as out; placeholder and future dates do not)."""
    day = product.release_date
    return day is None or (day.year < PLACEHOLDER_YEAR and day <= today)


def series_texts(names: Iterable[str]) -> frozenset[str]:
    """The library's series names, normalised for `assess` (computed once per run)."""
    return frozenset(title_text(n) for n in names if n)


def assess(
    author: OwnedAuthor,
    asin: str | None,
    found: Sequence[Work],
    owned_products: Sequence[CatalogueProduct],
    owned_series: frozenset[str],
    policy: AuthorPolicy,
    today: date,
) -> AuthorAssessment:
    """Compare the author's works with the library (`owned_series`: `series_texts` of
    every series the library holds)."""
    mine = sorted({name for book in author.books for name in book.series})
    language = _usual_language(owned_products)
    out = [w for w in found if released(w.product, today)]
    out = [w for w in out if _same_language(w.product, language)]
    in_series = [w for w in out if _in_owned_series(w.product, mine, owned_series)]
    outside = [w for w in out if w not in in_series]
    held = [w for w in outside if _owned(w.product, author.books, owned_products)]
    lacking = [w for w in outside if w not in held]
    if policy.released_since is not None:
        since = policy.released_since
        lacking = [w for w in lacking if w.product.release_date and w.product.release_date >= since]
    lacking.sort(key=lambda w: w.product.release_date or date.min, reverse=True)
    gaps = tuple(_gap(w, author, asin, policy) for w in lacking[: policy.max_gaps_per_run])
    owned_in_series = sum(1 for w in in_series if _owned(w.product, author.books, owned_products))
    return AuthorAssessment(
        name=author.name,
        asin=asin,
        works=len(out),
        owned=len(held) + owned_in_series,
        gaps=gaps,
        missing=len(lacking),
        in_owned_series=len(in_series),
    )


def _usual_language(products: Iterable[CatalogueProduct]) -> str | None:
    codes = [c for c in (language_code(p.language) for p in products) if c]
    return max(set(codes), key=codes.count) if codes else None


def _same_language(product: CatalogueProduct, language: str | None) -> bool:
    found = language_code(product.language)
    return language is None or found is None or found == language


def _in_owned_series(
    product: CatalogueProduct, mine: Sequence[str], everyone: frozenset[str]
) -> bool:
    """In a series the library holds: spelt alike (any owned series), or fuzzily like one
    of the author's own (a library of 2,000 series is not compared fuzzily each time)."""
    return any(
        title_text(ref.title) in everyone or any(titles_match(ref.title, n) for n in mine)
        for ref in product.series
    )


def _owned(
    product: CatalogueProduct,
    books: Sequence[OwnedTitle],
    owned_products: Sequence[CatalogueProduct],
) -> bool:
    asins = {b.asin for b in books if b.asin}
    if product.asin in asins:
        return True
    skus = {p.sku_lite for p in owned_products if p.sku_lite and p.asin in asins}
    if product.sku_lite and product.sku_lite in skus:
        return True
    return any(titles_match(b.title, product.title) for b in books)


def _gap(work: Work, author: OwnedAuthor, asin: str | None, policy: AuthorPolicy) -> AuthorGap:
    product = work.product
    if work.by_asin:
        confidence = 0.9 if work.sole_author else 0.8
        found_by = f"the catalogue lists it under {author.name}'s ASIN {asin}"
        if not work.sole_author:
            found_by += f" with {len(product.authors) - 1} co-author(s)"
    else:
        confidence = 0.6
        found_by = f"the catalogue lists it under the name {author.name} (no author ASIN known)"
    if LESSER.search(product.title):
        confidence -= 0.2
        found_by += "; its title reads like a sampler, excerpt or talk"
    confidence = round(max(confidence, 0.0), 2)
    released_on = product.release_date.isoformat() if product.release_date else "undated"
    evidence = (
        f"by {author.name}, whose {len(author.books)} audiobooks the library holds; "
        f"{found_by}; in no series the library holds; released {released_on}; "
        f"{work.editions} edition(s), {product.format_type or 'unabridged'} kept"
    )
    return AuthorGap(product, confidence, evidence[:1000], confidence < policy.review_below)
