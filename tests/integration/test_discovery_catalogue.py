"""The Audible catalogue client against the fake catalogue, over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from sandbox.audible import FakeAudible, FakeProduct
from services.discovery.catalogue import AudibleCatalogue, CatalogueResponseError, catalogue_host
from shared.http import PoliteHttp
from tests.support.http import fast_http


@pytest.fixture
async def http() -> AsyncIterator[PoliteHttp]:
    async with fast_http() as client:
        yield client


@pytest.fixture
async def audible() -> AsyncIterator[FakeAudible]:
    async with FakeAudible() as fake:
        books = [
            {"asin": f"B0KEEPER{n:02d}", "title": f"Keeper {n}", "sequence": str(n),
             "author": "Mara Quill", "release_date": date(2020, 1, n)}
            for n in range(1, 6)
        ]  # fmt: skip
        books.insert(1, {"asin": "B0KEEPERHF", "title": "Interlude", "sequence": "1.5",
                         "author": "Mara Quill", "release_date": date(2021, 1, 1)})  # fmt: skip
        books.append({"asin": "B0KEEPERBX", "title": "The Box", "sequence": "1-5",
                      "author": "Mara Quill", "content_delivery_type": "BookSeries"})  # fmt: skip
        fake.add_series("B0KEEPERSS", "The Lantern Keepers", books)
        yield fake


async def test_a_series_is_listed_in_order_from_an_owned_asin(
    audible: FakeAudible, http: PoliteHttp
) -> None:
    catalogue = AudibleCatalogue(http, base_url=audible.base_url)
    listing = await catalogue.find_series(["B0KEEPER02"], "The Lantern Keepers", None)
    assert listing is not None
    assert [(b.sequence, b.title) for b in listing.books] == [
        ("1", "Keeper 1"), ("1.5", "Interlude"), ("2", "Keeper 2"), ("3", "Keeper 3"),
        ("4", "Keeper 4"), ("5", "Keeper 5"), ("1-5", "The Box"),
    ]  # fmt: skip
    assert listing.books[0].release_date == date(2020, 1, 1)
    assert listing.books[-1].content_delivery_type == "BookSeries"


async def test_without_an_asin_a_search_finds_the_series(
    audible: FakeAudible, http: PoliteHttp
) -> None:
    catalogue = AudibleCatalogue(http, base_url=audible.base_url)
    listing = await catalogue.find_series([], "the lantern keepers", "Mara Quill")
    assert listing is not None
    assert listing.asin == "B0KEEPERSS"


async def test_a_book_in_two_series_leads_to_the_one_asked_for(
    audible: FakeAudible, http: PoliteHttp
) -> None:
    audible.add_series("B0WORLDSSS", "Lantern World", [
        {"asin": "B0OTHER001", "title": "Other", "sequence": "1", "author": "Mara Quill"},
    ])  # fmt: skip
    audible.products["B0KEEPER01"].series.append(("B0WORLDSSS", "Lantern World", "7"))
    catalogue = AudibleCatalogue(http, base_url=audible.base_url)
    listing = await catalogue.find_series(["B0KEEPER01"], "Lantern World", None)
    assert listing is not None
    assert listing.asin == "B0WORLDSSS"


async def test_more_than_fifty_products_are_read_in_batches(
    audible: FakeAudible, http: PoliteHttp
) -> None:
    for n in range(60):
        audible.add_product(FakeProduct(f"B0BATCH{n:03d}", f"Batch {n}"))
    catalogue = AudibleCatalogue(http, base_url=audible.base_url)
    products = await catalogue.products([f"B0BATCH{n:03d}" for n in range(60)])
    assert len(products) == 60
    assert sum("asins=" in r for r in audible.requests) == 2


async def test_unknown_products_are_none_and_429_is_waited_out(
    audible: FakeAudible, http: PoliteHttp
) -> None:
    catalogue = AudibleCatalogue(http, base_url=audible.base_url)
    audible.throttle_next = 2
    assert await catalogue.product("B0NOTHERE1") is None
    assert len(audible.requests) == 3


async def test_series_listings_are_cached(audible: FakeAudible, http: PoliteHttp) -> None:
    catalogue = AudibleCatalogue(http, base_url=audible.base_url)
    await catalogue.series_books("B0KEEPERSS")
    asked = len(audible.requests)
    await catalogue.series_books("B0KEEPERSS")
    assert len(audible.requests) == asked


async def test_a_malformed_answer_is_a_response_error(
    audible: FakeAudible, http: PoliteHttp
) -> None:
    audible.products["B0BROKEN01"] = FakeProduct("B0BROKEN01", "x")
    catalogue = AudibleCatalogue(http, base_url=audible.base_url)
    audible.products["B0BROKEN01"].document = lambda groups: {"title": "no asin"}  # type: ignore[method-assign]
    with pytest.raises(CatalogueResponseError, match="asin"):
        await catalogue.product("B0BROKEN01")


def test_regions_name_their_marketplace() -> None:
    assert catalogue_host("uk") == "https://api.audible.co.uk"
    with pytest.raises(ValueError, match="unknown Audible region"):
        catalogue_host("atlantis")
