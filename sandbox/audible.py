"""A fake Audible catalogue on loopback, answering with the real API's shapes.

`GET /1.0/catalog/products/{asin}` (one product, 404 `{"message": …}` if unknown),
`GET /1.0/catalog/products?asins=A,B` (a batch; unknown ASINs left out) and
`GET /1.0/catalog/products?title=&author=&keywords=&num_results=&page=` (a search, pages
from 0, an empty `products` past the end). `response_groups` decides what a product shows.
Series are products too: their `relationships` list the books (child, series) with
`sequence` and `sort`; each book lists the series as its parent. Switches: `throttle`
answers 429 with Retry-After, `answer_raw` answers one product with any body, and
`rate_limit` refuses (429, `Retry-After: 1`) requests beyond that many in any second,
as the real catalogue does to bulk readers (its limit is undocumented).
"""

from __future__ import annotations

import re
import time
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from aiohttp import web

from sandbox.loopback import LoopbackServer

MAX_RESULTS = 50


@dataclass
class FakeBook:
    """A book as `add_series` takes it (a plain dict with these keys works too)."""

    asin: str
    title: str
    sequence: str | None = None
    author: str | None = None
    release_date: date | None = None
    format_type: str = "unabridged"
    content_delivery_type: str = "SinglePartBook"
    sku_lite: str | None = None
    sort: str | None = None  # the series' order; by default, the order given
    narrators: tuple[str, ...] = ()
    runtime_length_min: int | None = None
    language: str | None = "english"
    author_asin: str | None = None
    publisher_name: str | None = None
    subtitle: str | None = None


@dataclass
class FakeProduct:
    """One catalogue product; `children` make it a series (asin, sequence, sort)."""

    asin: str
    title: str
    authors: list[str] = field(default_factory=list)
    series: list[tuple[str, str, str | None]] = field(default_factory=list)  # asin, title, seq
    release_date: date | None = None
    format_type: str | None = "unabridged"
    content_delivery_type: str | None = "SinglePartBook"
    sku_lite: str | None = None
    publication_name: str | None = None
    children: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    is_series: bool = False
    narrators: list[str] = field(default_factory=list)
    runtime_length_min: int | None = None
    language: str | None = None
    author_asins: dict[str, str] = field(default_factory=dict)
    """Author name → the author's ASIN, where the catalogue gives one."""
    subtitle: str | None = None
    publisher_name: str | None = None
    isbn: str | None = None
    publisher_summary: str | None = None  # HTML, as the API sends it
    genres: list[str] = field(default_factory=list)  # one ladder under "Genres"

    def document(self, groups: set[str]) -> dict[str, Any]:
        """The product as the API shows it, for the requested response groups."""
        shown: dict[str, Any] = {"asin": self.asin, "title": self.title}
        if "contributors" in groups:
            shown["authors"] = [
                {"name": a, **({"asin": self.author_asins[a]} if a in self.author_asins else {})}
                for a in self.authors
            ]
            shown["narrators"] = [{"name": n} for n in self.narrators]
        if "series" in groups and self.series:
            shown["series"] = [{"asin": a, "title": t, "sequence": s} for a, t, s in self.series]
        if "product_attrs" in groups:
            shown |= self._attributes()
        if "relationships" in groups:
            shown["relationships"] = self._relationships()
        if "product_desc" in groups:
            shown["publisher_summary"] = self.publisher_summary
        if "product_details" in groups and self.isbn:
            shown["isbn"] = self.isbn
        if "category_ladders" in groups:
            ladder = [{"id": str(zlib.crc32(g.encode())), "name": g} for g in self.genres]
            shown["category_ladders"] = [{"ladder": ladder, "root": "Genres"}] if ladder else []
        return shown

    def _attributes(self) -> dict[str, Any]:
        return {
            "release_date": self.release_date.isoformat() if self.release_date else None,
            "format_type": self.format_type,
            "content_delivery_type": self.content_delivery_type,
            "publication_name": self.publication_name,
            "sku_lite": self.sku_lite,
            "runtime_length_min": self.runtime_length_min,
            "language": self.language,
            "subtitle": self.subtitle,
            "publisher_name": self.publisher_name,
        }

    def _relationships(self) -> list[dict[str, Any]]:
        parents = [(a, s, s, "parent") for a, _, s in self.series]
        children = [(a, s, o, "child") for a, s, o in self.children]
        return [
            {"asin": a, "relationship_to_product": kind, "relationship_type": "series",
             "sequence": s, "sort": o}
            for a, s, o, kind in parents + children
        ]  # fmt: skip


@dataclass(frozen=True)
class SeenRequest:
    """A request the fake answered (or refused)."""

    path: str
    query: Mapping[str, str]
    at: float  # time.monotonic()


class FakeAudible(LoopbackServer):
    """The catalogue API at `/1.0/catalog/products`, on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self.products: dict[str, FakeProduct] = {}
        self.requests: list[SeenRequest] = []
        self._throttled = 0
        self._retry_after = "0"
        self._raw: dict[str, tuple[int, str]] = {}
        self.rate_limit: int | None = None
        """Requests answered per second at most (None: no limit)."""
        self.refused = 0
        """Requests refused for going beyond `rate_limit`."""
        self._recent: deque[float] = deque()

    def add_series(
        self, asin: str, title: str, books: Sequence[FakeBook | Mapping[str, Any]]
    ) -> FakeProduct:
        """A series and its books, in series order. A book already known (from another
        series) keeps its primary series (`publication_name`) and gains this one."""
        series = FakeProduct(asin, title, content_delivery_type=None, format_type=None)
        series.is_series = True
        for n, given in enumerate(books, start=1):
            book = given if isinstance(given, FakeBook) else FakeBook(**given)
            product = self.products.get(book.asin) or self._product_of(book, title)
            product.series.append((asin, title, book.sequence))
            series.children.append((book.asin, book.sequence, book.sort or str(n)))
        self.products[asin] = series
        return series

    def add_product(self, asin: str, title: str, **attributes: Any) -> FakeProduct:
        """A product on its own (`attributes` are `FakeProduct` fields)."""
        product = self.products[asin] = FakeProduct(asin, title, **attributes)
        return product

    def throttle(self, times: int, retry_after_s: int = 0) -> None:
        """Answer the next `times` requests with 429 and `Retry-After: retry_after_s`."""
        self._throttled = times
        self._retry_after = str(retry_after_s)

    def answer_raw(self, asin: str, body: str, status: int = 200) -> None:
        """Answer requests for product `asin` with exactly this body."""
        self._raw[asin] = (status, body)

    def application(self) -> web.Application:
        """The catalogue's product routes."""
        app = web.Application(middlewares=[self._politeness])
        app.router.add_get("/1.0/catalog/products/{asin}", self._one)
        app.router.add_get("/1.0/catalog/products", self._many)
        return app

    def _product_of(self, book: FakeBook, series_title: str) -> FakeProduct:
        product = FakeProduct(
            book.asin, book.title, [book.author] if book.author else [],
            release_date=book.release_date, format_type=book.format_type,
            content_delivery_type=book.content_delivery_type, sku_lite=book.sku_lite,
            publication_name=series_title, narrators=list(book.narrators),
            runtime_length_min=book.runtime_length_min, language=book.language,
            author_asins={book.author: book.author_asin} if book.author and book.author_asin
            else {},
            publisher_name=book.publisher_name, subtitle=book.subtitle,
        )  # fmt: skip
        self.products[book.asin] = product
        return product

    @web.middleware
    async def _politeness(self, request: web.Request, handler: Any) -> web.StreamResponse:
        now = time.monotonic()
        self.requests.append(SeenRequest(request.path, dict(request.query), now))
        if self._beyond_rate(now):
            self.refused += 1
            return web.json_response(
                {"message": "Too many requests"}, status=429, headers={"Retry-After": "1"}
            )
        if self._throttled > 0:
            self._throttled -= 1
            return web.json_response(
                {"message": "Too many requests"},
                status=429,
                headers={"Retry-After": self._retry_after},
            )
        response: web.StreamResponse = await handler(request)
        return response

    def _beyond_rate(self, now: float) -> bool:
        """Whether this request is one too many in the last second (a sliding window of
        the requests answered)."""
        if self.rate_limit is None:
            return False
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            return True
        self._recent.append(now)
        return False

    async def _one(self, request: web.Request) -> web.Response:
        asin = request.match_info["asin"]
        if asin in self._raw:
            status, body = self._raw[asin]
            return web.Response(status=status, text=body, content_type="application/json")
        product = self.products.get(asin)
        if product is None:
            return web.json_response({"message": "Requested product not found"}, status=404)
        return web.json_response({"product": product.document(_groups(request))})

    async def _many(self, request: web.Request) -> web.Response:
        groups = _groups(request)
        if "asins" in request.query:
            wanted = [a for a in request.query["asins"].split(",") if a in self.products]
            return web.json_response(
                {"products": [self.products[a].document(groups) for a in wanted]}
            )
        try:
            size = min(int(request.query.get("num_results", "10")), MAX_RESULTS)
            page = int(request.query.get("page", "0"))
        except ValueError:
            return web.json_response({"message": "num_results and page are numbers"}, status=400)
        found = [p for p in self.products.values() if _matches(p, request.query)]
        shown = found[page * size : (page + 1) * size]
        return web.json_response(
            {"products": [p.document(groups) for p in shown], "total_results": len(found)}
        )


def _matches(product: FakeProduct, query: Mapping[str, str]) -> bool:
    """A search hit: every word of `title` in the title, of `keywords` in the title, the
    series or the authors, of `author` in the authors. Series themselves are not found."""
    authors = " ".join(product.authors)
    everything = " ".join([product.title, authors, *(t for _, t, _ in product.series)])
    wanted = (
        (query.get("title", ""), product.title),
        (query.get("keywords", ""), everything),
        (query.get("author", ""), authors),
    )
    return not product.is_series and all(_words(w) <= _words(text) for w, text in wanted)


@lru_cache(maxsize=200_000)
def _words(text: str) -> frozenset[str]:
    """The words of a text, remembered, so that scanning every product for a search stays
    cheap (the real catalogue answers from an index)."""
    return frozenset(re.findall(r"\w+", text.lower()))


def _groups(request: web.Request) -> set[str]:
    return {g.strip() for g in request.query.get("response_groups", "").split(",") if g.strip()}
