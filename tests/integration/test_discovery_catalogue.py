"""The Audible catalogue client against the fake catalogue, over loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date

import pytest

from sandbox.audible import FakeAudible, FakeBook
from services.discovery.catalogue import AudibleCatalogue, CatalogueResponseError, catalogue_host
from shared.http import PoliteHttp
from tests.support.http import fast_http

SERIES = "B0KEEPERSS"
AUTHOR = "Mara Quill"


def keeper(n: int, sort: int) -> FakeBook:
    """Book `n` of the series; `sort` is its place in the series' order."""
    return FakeBook(
        f"B0KEEPER0{n}", f"Keeper {n}", str(n), AUTHOR, date(2020, 1, n), sort=str(sort)
    )


@pytest.fixture
async def http() -> AsyncIterator[PoliteHttp]:
    async with fast_http() as client:
        yield client


@pytest.fixture
async def audible() -> AsyncIterator[FakeAudible]:
    """Five books, a novella at 1.5 and a box set, listed out of order (`sort` decides)."""
    async with FakeAudible() as fake:
        fake.add_series(SERIES, "The Lantern Keepers", [
            keeper(5, 6), keeper(1, 1), keeper(3, 4), keeper(2, 3), keeper(4, 5),
            {"asin": "B0KEEPERHF", "title": "Interlude", "sequence": "1.5", "author": AUTHOR,
             "release_date": date(2021, 1, 1), "sort": "2"},
            {"asin": "B0KEEPERBX", "title": "The Box", "sequence": "1-5", "author": AUTHOR,
             "content_delivery_type": "BookSeries", "sort": "7"},
        ])  # fmt: skip
        yield fake


@pytest.fixture
def catalogue(audible: FakeAudible, http: PoliteHttp) -> AudibleCatalogue:
    return AudibleCatalogue(http, base_url=audible.base_url)


def searches(audible: FakeAudible) -> int:
    return sum(
        r.path == "/1.0/catalog/products" and "asins" not in r.query for r in audible.requests
    )


async def test_a_series_lists_every_book_in_the_series_order(catalogue: AudibleCatalogue) -> None:
    listing = await catalogue.series_books(SERIES)
    assert listing is not None
    assert (listing.asin, listing.title) == (SERIES, "The Lantern Keepers")
    assert [(b.sequence, b.title) for b in listing.books] == [
        ("1", "Keeper 1"), ("1.5", "Interlude"), ("2", "Keeper 2"), ("3", "Keeper 3"),
        ("4", "Keeper 4"), ("5", "Keeper 5"), ("1-5", "The Box"),
    ]  # fmt: skip
    first, box = listing.books[0], listing.books[-1]
    assert (first.release_date, first.authors, first.format_type) == (
        date(2020, 1, 1),
        (AUTHOR,),
        "unabridged",
    )
    assert box.content_delivery_type == "BookSeries"
    assert first.publication_name == "The Lantern Keepers"


async def test_only_child_series_relationships_count_ordered_by_sequence_without_sort(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    def relation(asin: str, to_product: str, kind: str, sequence: str) -> dict[str, str]:
        return {"asin": asin, "relationship_to_product": to_product,
                "relationship_type": kind, "sequence": sequence}  # fmt: skip

    relationships = [
        *(relation(f"B0KEEPER0{n}", "child", "series", str(n)) for n in (3, 1, 2)),
        relation("B0KEEPER04", "parent", "series", "4"),
        relation("B0KEEPER05", "child", "component", "5"),
    ]
    product = {"asin": "B0UNSORTED", "title": "Unsorted", "relationships": relationships}
    audible.answer_raw("B0UNSORTED", json.dumps({"product": product}))
    listing = await catalogue.series_books("B0UNSORTED")
    assert listing is not None
    assert [b.title for b in listing.books] == ["Keeper 1", "Keeper 2", "Keeper 3"]


async def test_sixty_products_are_read_in_two_batches_in_the_order_asked(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    asins = [f"B0BATCH{n:03d}" for n in range(60)]
    for n, asin in enumerate(asins):
        audible.add_product(asin, f"Batch {n}")
    products = await catalogue.products([*reversed(asins), "B0NOTHERE1"])
    assert [p.asin for p in products] == asins[::-1]
    batches = [r.query["asins"].split(",") for r in audible.requests if "asins" in r.query]
    assert [len(b) for b in batches] == [50, 11]


async def test_a_search_pages_until_it_has_enough(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    for n in range(60):
        audible.add_product(f"B0BATCH{n:03d}", f"Batch {n}", authors=["Ada Vale"])
    audible.add_product("B0BATCHXXX", "Batch elsewhere", authors=["Someone Else"])
    found = await catalogue.search("batch", "Ada Vale", num_results=55)
    assert len(found) == 55
    assert all(p.authors == ("Ada Vale",) for p in found)
    assert [r.query["page"] for r in audible.requests] == ["0", "1"]


async def test_an_owned_asin_leads_to_its_series_without_a_search(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    listing = await catalogue.find_series(["B0KEEPER02"], "Lantern Keepers", None)
    assert listing is not None
    assert listing.asin == SERIES
    assert len(listing.books) == 7
    assert searches(audible) == 0


@pytest.mark.parametrize("owned", [[], ["B0REGIONLK"]], ids=["no ASIN", "ASIN not here"])
async def test_without_a_usable_asin_a_search_finds_the_series(
    audible: FakeAudible, catalogue: AudibleCatalogue, owned: list[str]
) -> None:
    listing = await catalogue.find_series(owned, "the lantern keepers", AUTHOR)
    assert listing is not None
    assert listing.asin == SERIES
    assert searches(audible) == 1


async def test_a_series_nobody_lists_is_none(catalogue: AudibleCatalogue) -> None:
    assert await catalogue.find_series(["B0KEEPER01"], "Unheard Of", AUTHOR) is None
    assert await catalogue.series_books("B0NOSERIES") is None
    assert await catalogue.product("B0NOTHERE1") is None


async def test_a_book_in_two_series_leads_to_the_one_asked_for(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    audible.add_series("B0WORLDSSS", "Lantern World", [
        {"asin": "B0OTHER001", "title": "Other", "sequence": "1", "author": AUTHOR},
        {"asin": "B0KEEPER01", "title": "Keeper 1", "sequence": "7", "author": AUTHOR},
    ])  # fmt: skip
    world = await catalogue.find_series(["B0KEEPER01"], "Lantern World", None)
    keepers = await catalogue.find_series(["B0KEEPER01"], "The Lantern Keepers", None)
    assert world is not None
    assert keepers is not None
    assert (world.asin, [b.sequence for b in world.books]) == ("B0WORLDSSS", ["1", "7"])
    assert keepers.asin == SERIES


async def test_between_two_series_of_the_same_name_the_primary_one_wins(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    audible.add_series("B0FULLCAST", "The Lantern Keepers (Full Cast)", [
        {"asin": "B0KEEPER01", "title": "Keeper 1", "sequence": "1", "author": AUTHOR},
    ])  # fmt: skip
    audible.products["B0KEEPER01"].series.reverse()  # the full cast one is listed first
    listing = await catalogue.find_series(["B0KEEPER01"], "The Lantern Keepers", None)
    assert listing is not None
    assert listing.asin == SERIES


async def test_a_429_is_waited_out_as_long_as_retry_after_says(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    audible.throttle(1, retry_after_s=1)
    product = await catalogue.product("B0KEEPER03")
    assert product is not None
    assert product.title == "Keeper 3"
    refused, answered = audible.requests
    assert answered.at - refused.at >= 0.9


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ('{"product": {"title": "no asin"}}', "product.asin"),
        ("<html>Service Unavailable</html>", "not JSON"),
        ('{"product": {"asin": "B0BROKEN01", "release_date": "soon"}}', "release_date"),
        ('["a", "list"]', "malformed"),
    ],
)
async def test_a_malformed_answer_is_a_response_error(
    audible: FakeAudible, catalogue: AudibleCatalogue, body: str, complaint: str
) -> None:
    audible.answer_raw("B0BROKEN01", body)
    with pytest.raises(CatalogueResponseError, match=complaint):
        await catalogue.product("B0BROKEN01")
    # A broken answer is not cached: once the catalogue answers properly, it is used.
    audible.answer_raw("B0BROKEN01", '{"product": {"asin": "B0BROKEN01", "title": "Fixed"}}')
    fixed = await catalogue.product("B0BROKEN01")
    assert fixed is not None
    assert fixed.title == "Fixed"


async def test_missing_response_groups_are_empty_not_errors(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    audible.answer_raw("B0SPARSE01", '{"product": {"asin": "B0SPARSE01", "series": null}}')
    product = await catalogue.product("B0SPARSE01")
    assert product is not None
    assert (product.title, product.series, product.authors, product.release_date) == (
        "",
        (),
        (),
        None,
    )


async def test_series_listings_are_cached(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    first = await catalogue.series_books(SERIES)
    asked = len(audible.requests)
    second = await catalogue.series_books(SERIES)
    assert asked == 2  # the series, then its books in one batch
    assert len(audible.requests) == asked
    assert second == first


@pytest.mark.parametrize(
    ("region", "host"),
    [("us", "com"), ("ca", "ca"), ("uk", "co.uk"), ("au", "com.au"), ("fr", "fr"),
     ("de", "de"), ("jp", "co.jp"), ("it", "it"), ("in", "in"), ("es", "es"),
     ("br", "com.br"), ("UK", "co.uk")],
)  # fmt: skip
def test_each_region_names_its_marketplace(region: str, host: str) -> None:
    assert catalogue_host(region) == f"https://api.audible.{host}"


async def test_an_unknown_region_is_refused_at_construction(http: PoliteHttp) -> None:
    with pytest.raises(ValueError, match="unknown Audible region 'atlantis'"):
        AudibleCatalogue(http, region="atlantis")
    with pytest.raises(ValueError, match="unknown Audible region"):
        AudibleCatalogue(http, region="atlantis", base_url="http://127.0.0.1:1")


async def test_an_authors_books_are_searched_page_by_page_with_their_author_asins(
    audible: FakeAudible, catalogue: AudibleCatalogue
) -> None:
    for n in range(120):  # more than two pages of 50
        audible.add_product(
            f"B0QSOLO{n:03d}", f"Solo {n}", authors=[AUTHOR, "Ada Vell"],
            author_asins={AUTHOR: "B0MARAQ001"},
        )  # fmt: skip
    found = await catalogue.author_books(AUTHOR, limit=200)
    solo = [p for p in found if p.title.startswith("Solo")]
    assert len(solo) == 120
    assert solo[0].authors == (AUTHOR, "Ada Vell")
    assert solo[0].author_asins == ("B0MARAQ001", None)
    assert searches(audible) == 3  # 127 results: three pages of 50
