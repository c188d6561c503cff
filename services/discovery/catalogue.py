"""The Audible catalogue (no login needed for catalogue reads): products and series.

The way into a series is an owned book's ASIN: its product lists the series it belongs
to (when several match the library's series name, the primary one is the series whose
title equals the product's `publication_name`). Without a usable ASIN, a catalogue search
by series name and author finds a product of the series. The series' own product lists
its books as `relationships` (child, series), ordered by `sort`; those are fetched in
batches of 50. Answers are cached (series change rarely) and validated at the edge: a
malformed answer is a `CatalogueResponseError`, an unknown ASIN is None.

Products are kept per ASIN (for the cache's time to live), not per request: a book met
as an owned book is not asked for again as a series' child. `prepare` reads what many
series need in a few batches of 50 (owned books, then the series, then their other
books), so a library of thousands of series costs hundreds of requests, not thousands.

For the gap finder, a `SeriesListing` maps field for field onto `gaps.CatalogueSeries`
(asin, title, books) and each `CatalogueProduct` onto `gaps.CatalogueBook` (asin, title,
sequence, sort, release_date, content_delivery_type, format_type, sku_lite, authors,
narrators, runtime_minutes, language);
`series` and `publication_name` are extra, and so are the metadata the METADATA job
compares with the library: `subtitle`, `publisher` (`publisher_name`), `isbn`, `genres`
(the names on `category_ladders`) and `description` (`publisher_summary` as plain text).
`series_check.catalogue_series` does the copy.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from time import monotonic
from typing import Any, TypeVar
from urllib.parse import quote

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from services.discovery.sequences import parse_sequence
from services.discovery.titles import titles_match
from shared.http import HttpStatusError, PoliteHttp
from shared.text import title_text

HOSTS = {
    "us": "com", "ca": "ca", "uk": "co.uk", "au": "com.au", "fr": "fr", "de": "de",
    "jp": "co.jp", "it": "it", "in": "in", "es": "es", "br": "com.br",
}  # fmt: skip
"""Marketplace region → the top-level domain of its catalogue host."""

PRODUCT_GROUPS = (
    "contributors,media,product_attrs,product_desc,product_details,series,relationships,"
    "category_ladders"
)
BATCH = 50
"""The most ASINs (and search results) the catalogue answers in one call."""

TAG = re.compile(r"<[^>]*>")
MAX_DESCRIPTION = 65_536
"""As long as an event's long text may be."""

DEFAULT_CACHE_TTL_S = 3 * 24 * 3600.0
SERIES_SEARCH_DEPTH = 20
"""How many search results to look through for a product of a series."""


class CatalogueResponseError(Exception):
    """The catalogue answered with something that is not what its API returns."""


def catalogue_host(region: str, base_url: str | None = None) -> str:
    """The catalogue's base URL for a marketplace region (`base_url` overrides the host)."""
    tld = HOSTS.get(region.strip().lower())
    if tld is None:
        raise ValueError(f"unknown Audible region {region!r} (one of {', '.join(HOSTS)})")
    return base_url.rstrip("/") if base_url else f"https://api.audible.{tld}"


# --- The API's shapes, validated at the edge -------------------------------------------


class _Wire(BaseModel):
    # Sequences and sorts are text, but a number where text belongs is no reason to fail.
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class _Person(_Wire):
    name: str
    asin: str | None = None


class _SeriesRef(_Wire):
    asin: str
    title: str
    sequence: str | None = None


class _Relationship(_Wire):
    asin: str
    relationship_to_product: str | None = None
    relationship_type: str | None = None
    sequence: str | None = None
    sort: str | None = None


class _Rung(_Wire):
    name: str


class _Ladder(_Wire):
    ladder: list[_Rung] = []
    root: str | None = None


class _Product(_Wire):
    asin: str
    title: str = ""
    subtitle: str | None = None
    publisher_name: str | None = None
    publisher_summary: str | None = None
    isbn: str | None = None
    category_ladders: list[_Ladder] = []
    authors: list[_Person] = []
    series: list[_SeriesRef] = []
    relationships: list[_Relationship] = []
    publication_name: str | None = None
    release_date: date | None = None
    content_delivery_type: str | None = None
    format_type: str | None = None
    sku_lite: str | None = None
    narrators: list[_Person] = []
    runtime_length_min: int | None = None
    language: str | None = None

    @field_validator(
        "authors", "series", "relationships", "narrators", "category_ladders", mode="before"
    )
    @classmethod
    def _absent_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("release_date", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value or None


class _ProductAnswer(_Wire):
    product: _Product | None = None


class _ProductsAnswer(_Wire):
    products: list[_Product]


_Answer = TypeVar("_Answer", _ProductAnswer, _ProductsAnswer)


# --- What callers get ------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesRef:
    """A series a product belongs to, and the product's position in it."""

    asin: str
    title: str
    sequence: str | None


@dataclass(frozen=True)
class CatalogueProduct:
    """One catalogue product; `sequence`/`sort` are its place in the listing it came from."""

    asin: str
    title: str
    sequence: str | None
    sort: str | None
    release_date: date | None
    content_delivery_type: str | None
    format_type: str | None
    sku_lite: str | None
    authors: tuple[str, ...]
    series: tuple[SeriesRef, ...]
    publication_name: str | None
    narrators: tuple[str, ...] = ()
    runtime_minutes: int | None = None
    language: str | None = None
    author_asins: tuple[str | None, ...] = ()
    """The authors' catalogue ASINs, in the order of `authors` (None where not given)."""
    subtitle: str | None = None
    publisher: str | None = None
    isbn: str | None = None
    genres: tuple[str, ...] = ()
    description: str | None = None
    """The publisher's summary as plain text (the API sends HTML)."""


@dataclass(frozen=True)
class SeriesListing:
    """A series and every product the catalogue lists in it, in the series' order."""

    asin: str
    title: str
    books: tuple[CatalogueProduct, ...]


def _product(raw: _Product) -> CatalogueProduct:
    return CatalogueProduct(
        asin=raw.asin,
        title=raw.title,
        sequence=None,
        sort=None,
        release_date=raw.release_date,
        content_delivery_type=raw.content_delivery_type,
        format_type=raw.format_type,
        sku_lite=raw.sku_lite,
        authors=tuple(a.name for a in raw.authors),
        series=tuple(SeriesRef(s.asin, s.title, s.sequence) for s in raw.series),
        publication_name=raw.publication_name,
        narrators=tuple(n.name for n in raw.narrators),
        runtime_minutes=raw.runtime_length_min
        if raw.runtime_length_min and raw.runtime_length_min > 0
        else None,
        language=raw.language or None,
        author_asins=tuple(a.asin or None for a in raw.authors),
        subtitle=raw.subtitle or None,
        publisher=raw.publisher_name or None,
        isbn=raw.isbn or None,
        genres=_genres(raw.category_ladders),
        description=_plain_text(raw.publisher_summary),
    )


def _genres(ladders: Sequence[_Ladder]) -> tuple[str, ...]:
    """The names on the product's genre ladders ("Science Fiction & Fantasy", then
    "Fantasy"), each once, in order."""
    names = (rung.name for lad in ladders if lad.root in (None, "Genres") for rung in lad.ladder)
    return tuple(dict.fromkeys(n.strip() for n in names if n.strip()))


def _plain_text(summary: str | None) -> str | None:
    """The summary's text: tags dropped, entities read, blanks collapsed."""
    if not summary:
        return None
    text = " ".join(html.unescape(TAG.sub(" ", summary)).split())
    return text[:MAX_DESCRIPTION] or None


class AudibleCatalogue:
    """Catalogue reads for one marketplace, through the polite HTTP client, cached."""

    def __init__(
        self,
        http: PoliteHttp,
        region: str = "us",
        base_url: str | None = None,
        cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
    ) -> None:
        self._base = catalogue_host(region, base_url)
        self._http = http
        self._ttl = cache_ttl_s if cache_ttl_s > 0 else None
        self._known: dict[str, tuple[float, _Kept | None]] = {}
        """Products by ASIN (None: the catalogue does not know it), with their expiry."""

    async def product(self, asin: str) -> CatalogueProduct | None:
        """One product, or None if the catalogue does not know it."""
        raw = await self._one(asin, PRODUCT_GROUPS)
        return _product(raw) if raw is not None else None

    async def products(self, asins: Sequence[str]) -> list[CatalogueProduct]:
        """Many products, 50 per call, in the order asked; unknown ASINs are left out."""
        found = await self._products(asins)
        return [k.product for a in dict.fromkeys(asins) if (k := found.get(a)) is not None]

    async def prepare(self, series: Sequence[tuple[Sequence[str], str]]) -> None:
        """Read ahead, in batches, what `find_series` needs for these series (each: the
        owned books' ASINs and the library's name): the owned books, the series they lead
        to, and those series' books. Series found only by a search are not read ahead."""
        self._forget_expired()
        owned = await self._products([a for asins, _ in series for a in asins])
        refs = [
            _series_named([k.product for a in asins if (k := owned.get(a))], name)
            for asins, name in series
        ]
        listed = await self._products([ref.asin for ref in refs if ref is not None])
        await self._products([c.asin for k in listed.values() if k is not None for c in k.children])

    async def search(
        self, title: str, author: str | None, num_results: int = 20
    ) -> list[CatalogueProduct]:
        """Products matching a title (and author), most relevant first."""
        return await self._search({"title": title}, author, num_results)

    async def author_books(self, name: str, limit: int = 200) -> list[CatalogueProduct]:
        """The products a search by author finds (the catalogue has no author listing:
        the caller keeps those whose authors carry the author's ASIN)."""
        return await self._search({}, name, limit)

    async def series_books(self, series_asin: str) -> SeriesListing | None:
        """Every product of a series, in the series' order; None if the series is unknown."""
        return await self._listing(series_asin, "")

    async def find_series(
        self, owned_asins: Sequence[str], series_name: str, author: str | None
    ) -> SeriesListing | None:
        """A series' listing, found through an owned book's ASIN, else by a search."""
        ref = _series_named(await self.products(owned_asins), series_name)
        if ref is None:
            query = {"keywords": series_name}
            found = await self._search(query, author, SERIES_SEARCH_DEPTH)
            ref = _series_named(found, series_name)
        return await self._listing(ref.asin, ref.title) if ref is not None else None

    async def _listing(self, series_asin: str, known_title: str) -> SeriesListing | None:
        known = self._known.get(series_asin)
        if known is not None and known[0] > monotonic():
            series = known[1]  # read ahead by `prepare`
        else:
            raw = await self._one(series_asin, "relationships")
            series = _kept(raw) if raw is not None else None
        if series is None:
            return None
        children = series.children
        details = {p.asin: p for p in await self.products([r.asin for r in children])}
        books = tuple(
            replace(details[r.asin], sequence=r.sequence, sort=r.sort)
            for r in children
            if r.asin in details
        )
        return SeriesListing(series_asin, series.product.title or known_title, books)

    async def _products(self, asins: Sequence[str]) -> dict[str, _Kept | None]:
        """Products by ASIN, from what is known, the rest asked for 50 per call (the
        request itself is not cached: its products are, one by one)."""
        wanted = list(dict.fromkeys(asins))
        now = monotonic()
        found = {a: k[1] for a in wanted if (k := self._known.get(a)) is not None and k[0] > now}
        missing = [a for a in wanted if a not in found]
        for start in range(0, len(missing), BATCH):
            chunk = missing[start : start + BATCH]
            params = {"asins": ",".join(chunk), "response_groups": PRODUCT_GROUPS}
            answer = await self._many(params, cache=False)
            got: dict[str, _Kept | None] = dict.fromkeys(chunk)
            got |= {p.asin: _kept(p) for p in answer.products}
            if self._ttl is not None:
                expiry = monotonic() + self._ttl
                self._known |= {a: (expiry, p) for a, p in got.items()}
            found |= got
        return found

    def _forget_expired(self) -> None:
        now = monotonic()
        self._known = {a: k for a, k in self._known.items() if k[0] > now}

    async def _search(
        self, query: Mapping[str, str], author: str | None, limit: int
    ) -> list[CatalogueProduct]:
        """Page through search results (pages from 0) until `limit` or the end."""
        size = min(limit, BATCH)
        base = {**query, **({"author": author} if author else {})}
        found: list[_Product] = []
        page = 0
        while len(found) < limit:
            params = {
                **base,
                "num_results": str(size),
                "page": str(page),
                "products_sort_by": "Relevance",
                "response_groups": PRODUCT_GROUPS,
            }
            batch = (await self._many(params)).products
            found += batch
            if len(batch) < size:
                break
            page += 1
        return [_product(p) for p in found[:limit]]

    async def _one(self, asin: str, groups: str) -> _Product | None:
        path = f"/1.0/catalog/products/{quote(asin, safe='')}"
        try:
            answer = await self._get(
                path,
                {"response_groups": groups},
                lambda body: _parse(_ProductAnswer, body, f"product {asin}"),
            )
        except HttpStatusError as error:
            if error.status == 404:
                return None
            raise
        return answer.product

    async def _many(self, params: Mapping[str, str], *, cache: bool = True) -> _ProductsAnswer:
        return await self._get(
            "/1.0/catalog/products",
            params,
            lambda body: _parse(_ProductsAnswer, body, "products"),
            cache=cache,
        )

    async def _get(
        self,
        path: str,
        params: Mapping[str, str],
        parse: Callable[[Any], _Answer],
        *,
        cache: bool = True,
    ) -> _Answer:
        url = self._base + path
        ttl = self._ttl if cache else None
        body = await self._http.get_bytes(url, params=params, cache_ttl=ttl)
        try:
            try:
                document = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise CatalogueResponseError(
                    f"catalogue answer for {path} is not JSON: {body[:80]!r}"
                ) from None
            return parse(document)
        except CatalogueResponseError:
            self._http.forget(url, params=params)  # a broken answer is not kept for days
            raise


def _parse(model: type[_Answer], body: Any, what: str) -> _Answer:
    try:
        return model.model_validate(body)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise CatalogueResponseError(
            f"catalogue answer for {what} is malformed at {where}: {first['msg']}"
        ) from None


def _series_named(products: Sequence[CatalogueProduct], name: str) -> SeriesRef | None:
    """The first product's series called `name` (see `_matching_series`)."""
    for product in products:
        if (ref := _matching_series(product, name)) is not None:
            return ref
    return None


def _matching_series(product: CatalogueProduct, name: str) -> SeriesRef | None:
    """The product's series called `name`; among several, the primary one (its title is
    the product's `publication_name`), then an exact match of the normalised name."""
    named = [s for s in product.series if titles_match(s.title, name)]
    wanted = title_text(name)
    named.sort(key=lambda s: (s.title != product.publication_name, title_text(s.title) != wanted))
    return named[0] if named else None


@dataclass(frozen=True, slots=True)
class _Child:
    """A book of a series: its ASIN and place."""

    asin: str
    sequence: str | None
    sort: str | None


@dataclass(frozen=True, slots=True)
class _Kept:
    """A product as kept between runs: what callers get, and a series' books. (The
    validated answer itself weighs ten times more: 100 MB for 20,000 products.)"""

    product: CatalogueProduct
    children: tuple[_Child, ...]


def _kept(raw: _Product) -> _Kept:
    return _Kept(_product(raw), tuple(_children(raw)))


def _children(series: _Product) -> list[_Child]:
    """A series' books (child, series relationships), in the series' order."""
    children = sorted(
        (
            r
            for r in series.relationships
            if r.relationship_to_product == "child" and r.relationship_type == "series"
        ),
        key=_order,  # a stable sort: ties keep the catalogue's order
    )
    return [_Child(r.asin, r.sequence, r.sort) for r in children]


def _order(relationship: _Relationship) -> Decimal:
    """Where a child sits: its `sort`, else the first number of its sequence, else last."""
    for text in (relationship.sort, relationship.sequence):
        if (positions := parse_sequence(text)) is not None:
            return positions.first
    return Decimal("Infinity")
