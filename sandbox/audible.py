"""A fake Audible catalogue: products, series with their `relationships`, batch reads,
searches, 404 for unknown ASINs — and, on request, 429s with Retry-After."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from sandbox.loopback import LoopbackServer


@dataclass
class FakeProduct:
    """One catalogue product."""

    asin: str
    title: str
    authors: list[str] = field(default_factory=list)
    series: list[tuple[str, str, str | None]] = field(default_factory=list)  # asin, title, seq
    release_date: date | None = None
    format_type: str = "unabridged"
    content_delivery_type: str = "SinglePartBook"
    sku_lite: str | None = None
    publication_name: str | None = None
    children: list[tuple[str, str | None, str]] = field(default_factory=list)  # asin, seq, sort

    def document(self, groups: set[str]) -> dict[str, Any]:
        """The product as the API shows it, for the requested response groups."""
        shown: dict[str, Any] = {"asin": self.asin, "title": self.title}
        if "contributors" in groups:
            shown["authors"] = [{"asin": None, "name": a} for a in self.authors]
        if "series" in groups:
            shown["series"] = [{"asin": a, "title": t, "sequence": s} for a, t, s in self.series]
        if "product_attrs" in groups:
            shown |= {
                "release_date": self.release_date.isoformat() if self.release_date else None,
                "format_type": self.format_type,
                "content_delivery_type": self.content_delivery_type,
                "publication_name": self.publication_name,
            }
        if "product_details" in groups:
            shown["sku_lite"] = self.sku_lite
        if "relationships" in groups:
            shown["relationships"] = [
                {"asin": a, "relationship_to_product": "child", "relationship_type": "series",
                 "sequence": s, "sort": o}
                for a, s, o in self.children
            ]  # fmt: skip
        return shown


class FakeAudible(LoopbackServer):
    """The catalogue API at `/1.0/catalog/products`, on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self.products: dict[str, FakeProduct] = {}
        self.requests: list[str] = []
        self.throttle_next = 0  # answer this many requests with 429 first

    def add_series(self, asin: str, title: str, books: list[dict[str, Any]]) -> None:
        """A series and its books: dicts with asin, title, sequence, author, release_date,
        and optionally format_type, content_delivery_type, sku_lite."""
        series = FakeProduct(asin, title, content_delivery_type="BookSeries")
        for n, book in enumerate(books, start=1):
            product = FakeProduct(
                book["asin"], book["title"], [book["author"]] if book.get("author") else [],
                [(asin, title, book.get("sequence"))], book.get("release_date"),
                book.get("format_type", "unabridged"),
                book.get("content_delivery_type", "SinglePartBook"), book.get("sku_lite"), title,
            )  # fmt: skip
            self.products[product.asin] = product
            series.children.append((product.asin, book.get("sequence"), str(n)))
        self.products[asin] = series

    def add_product(self, product: FakeProduct) -> None:
        """A product on its own."""
        self.products[product.asin] = product

    def application(self) -> web.Application:
        """The catalogue's product routes."""
        app = web.Application(middlewares=[self._politeness])
        app.router.add_get("/1.0/catalog/products/{asin}", self._one)
        app.router.add_get("/1.0/catalog/products", self._many)
        return app

    @web.middleware
    async def _politeness(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return web.json_response(
                {"message": "Too many requests"}, status=429, headers={"Retry-After": "0"}
            )
        response: web.StreamResponse = await handler(request)
        return response

    async def _one(self, request: web.Request) -> web.Response:
        product = self.products.get(request.match_info["asin"])
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
        words = " ".join(request.query.get(k, "") for k in ("title", "keywords")).lower().split()
        author = request.query.get("author", "").lower()
        found = [
            p for p in self.products.values()
            if all(w in _haystack(p) for w in words) and author in " ".join(p.authors).lower()
        ]  # fmt: skip
        size = int(request.query.get("num_results", "10"))
        page = int(request.query.get("page", "0"))
        shown = found[page * size : (page + 1) * size]
        return web.json_response(
            {"products": [p.document(groups) for p in shown], "total_results": len(found)}
        )


def _groups(request: web.Request) -> set[str]:
    return {g.strip() for g in request.query.get("response_groups", "").split(",") if g.strip()}


def _haystack(product: FakeProduct) -> str:
    return " ".join([product.title, *(t for _, t, _ in product.series)]).lower()
