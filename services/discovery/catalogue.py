"""The Audible catalogue (no login needed for catalogue reads): a series' books.

The way in is an owned book's ASIN: its product lists the series it belongs to (the
primary one is the series whose title equals the product's `publication_name`). Without
an ASIN, a catalogue search by series name and author finds a product of the series.
The series' own product lists its books as `relationships` (child, series), ordered by
`sort`; those are fetched in batches of 50. Answers are cached (series change rarely)
and validated at the edge: a malformed answer is a `CatalogueResponseError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.discovery.titles import normalise_title
from shared.http import HttpStatusError, PoliteHttp

HOSTS = {
    "us": "com", "ca": "ca", "uk": "co.uk", "au": "com.au", "fr": "fr", "de": "de",
    "jp": "co.jp", "it": "it", "in": "in", "es": "es", "br": "com.br",
}  # fmt: skip
PRODUCT_GROUPS = (
    "contributors,media,product_attrs,product_desc,product_details,series,relationships"
)
BATCH = 50


class CatalogueResponseError(Exception):
    """The catalogue answered with something that is not what its API returns."""


def catalogue_host(region: str, base_url: str | None = None) -> str:
    """The catalogue's base URL for a marketplace region (`base_url` overrides it)."""
    if base_url:
        return base_url.rstrip("/")
    if region not in HOSTS:
        raise ValueError(f"unknown Audible region {region!r} (one of {', '.join(HOSTS)})")
    return f"https://api.audible.{HOSTS[region]}"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Named(_Model):
    name: str
    asin: str | None = None


class _SeriesRef(_Model):
    asin: str
    title: str
    sequence: str | None = None


class _Relationship(_Model):
    asin: str
    relationship_to_product: str | None = None
    relationship_type: str | None = None
    sequence: str | None = None
    sort: str | None = None


class _Product(_Model):
    asin: str
    title: str = ""
    authors: list[_Named] = Field(default_factory=list)
    series: list[_SeriesRef] = Field(default_factory=list)
    relationships: list[_Relationship] = Field(default_factory=list)
    publication_name: str | None = None
    release_date: date | None = None
    content_delivery_type: str | None = None
    format_type: str | None = None
    sku_lite: str | None = None

    @field_validator("release_date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        return value or None


class _One(_Model):
    product: _Product


class _Many(_Model):
    products: list[_Product]


@dataclass(frozen=True)
class SeriesRef:
    """A series a product belongs to, with its position."""

    asin: str
    title: str
    sequence: str | None


@dataclass(frozen=True)
class CatalogueProduct:
    """One catalogue product."""

    asin: str
    title: str
    authors: tuple[str, ...]
    series: tuple[SeriesRef, ...]
    publication_name: str | None
    release_date: date | None
    content_delivery_type: str | None
    format_type: str | None
    sku_lite: str | None
    sequence: str | None = None  # its position in the listing it came from
    sort: str | None = None


@dataclass(frozen=True)
class SeriesListing:
    """A series and its books, in catalogue order."""

    asin: str
    title: str
    books: tuple[CatalogueProduct, ...]


def _product(
    raw: _Product, sequence: str | None = None, sort: str | None = None
) -> CatalogueProduct:
    return CatalogueProduct(
        asin=raw.asin,
        title=raw.title,
        authors=tuple(a.name for a in raw.authors),
        series=tuple(SeriesRef(s.asin, s.title, s.sequence) for s in raw.series),
        publication_name=raw.publication_name,
        release_date=raw.release_date,
        content_delivery_type=raw.content_delivery_type,
        format_type=raw.format_type,
        sku_lite=raw.sku_lite,
        sequence=sequence,
        sort=sort,
    )


class AudibleCatalogue:
    """Catalogue reads for one marketplace, cached."""

    def __init__(
        self,
        http: PoliteHttp,
        region: str = "us",
        base_url: str | None = None,
        cache_ttl_s: float = 3 * 24 * 3600.0,
    ) -> None:
        self._base = catalogue_host(region, base_url)
        self._http = http
        self._ttl = cache_ttl_s

    async def product(self, asin: str) -> CatalogueProduct | None:
        """One product, or None if the catalogue does not know it."""
        raw = await self._product(asin, PRODUCT_GROUPS)
        return _product(raw) if raw is not None else None

    async def products(self, asins: Sequence[str]) -> list[CatalogueProduct]:
        """Many products, in batches of 50, in the order asked."""
        found: dict[str, CatalogueProduct] = {}
        for start in range(0, len(asins), BATCH):
            chunk = ",".join(asins[start : start + BATCH])
            params = {"asins": chunk, "response_groups": PRODUCT_GROUPS}
            answer = self._parse(_Many, await self._get("/1.0/catalog/products", params))
            found |= {p.asin: _product(p) for p in answer.products}
        return [found[a] for a in asins if a in found]

    async def search(
        self, title: str, author: str | None, num_results: int = 20
    ) -> list[CatalogueProduct]:
        """Products matching a title (and author)."""
        params = {"title": title, "num_results": str(min(num_results, 50)),
                  "products_sort_by": "Relevance", "response_groups": PRODUCT_GROUPS}  # fmt: skip
        if author:
            params["author"] = author
        answer = self._parse(_Many, await self._get("/1.0/catalog/products", params))
        return [_product(p) for p in answer.products]

    async def series_books(self, series_asin: str) -> SeriesListing | None:
        """Every book of a series, in the series' order; None if unknown."""
        series = await self._product(series_asin, "relationships")
        if series is None:
            return None
        children = [
            r for r in series.relationships
            if r.relationship_to_product == "child" and r.relationship_type == "series"
        ]  # fmt: skip
        children.sort(key=lambda r: _order(r.sort or r.sequence))
        details = {p.asin: p for p in await self.products([r.asin for r in children])}
        books = tuple(
            _with_position(details[r.asin], r.sequence, r.sort)
            for r in children
            if r.asin in details
        )
        return SeriesListing(series.asin, series.title, books)

    async def find_series(
        self, owned_asins: Sequence[str], series_name: str, author: str | None
    ) -> SeriesListing | None:
        """The series' listing, found through an owned book, else by a search."""
        wanted = normalise_title(series_name)
        for asin in owned_asins:
            product = await self.product(asin)
            ref = _matching_series(product, wanted) if product else None
            if ref is not None:
                return await self.series_books(ref.asin)
        for product in await self.search(series_name, author):
            ref = _matching_series(product, wanted)
            if ref is not None:
                return await self.series_books(ref.asin)
        return None

    async def _product(self, asin: str, groups: str) -> _Product | None:
        try:
            body = await self._get(f"/1.0/catalog/products/{asin}", {"response_groups": groups})
        except HttpStatusError as error:
            if error.status == 404:
                return None
            raise
        one: _One = self._parse(_One, body)
        return one.product

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        return await self._http.get_json(self._base + path, params=params, cache_ttl=self._ttl)

    @staticmethod
    def _parse(model: type[_One] | type[_Many], body: Any) -> Any:
        try:
            return model.model_validate(body)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise CatalogueResponseError(
                f"unexpected catalogue answer: {where}: {first['msg']}"
            ) from None


def _matching_series(product: CatalogueProduct, wanted: str) -> SeriesRef | None:
    """The product's series named `wanted`; among several, the primary (publication name)."""
    named = [s for s in product.series if normalise_title(s.title) == wanted]
    primary = [s for s in named if s.title == product.publication_name]
    chosen = primary or named
    return chosen[0] if chosen else None


def _with_position(
    product: CatalogueProduct, sequence: str | None, sort: str | None
) -> CatalogueProduct:
    return replace(product, sequence=sequence, sort=sort)


def _order(text: str | None) -> float:
    try:
        return float(text) if text else float("inf")
    except ValueError:
        return float("inf")
