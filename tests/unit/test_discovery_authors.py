"""The author gap rules: who is monitored, which catalogue products are the author's
works, which the library lacks outside its series, and how sure each gap is."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.discovery.authors import (
    AuthorAssessment,
    AuthorPolicy,
    OwnedAuthor,
    OwnedTitle,
    assess,
    author_asin,
    monitored,
    owned_authors,
    person_key,
    series_texts,
    works,
)
from services.discovery.catalogue import CatalogueProduct, SeriesRef

TODAY = date(2026, 12, 6)
SANDERSON = "B001IGFHW6"


def product(
    asin: str,
    title: str,
    *,
    authors: tuple[str, ...] = ("Brandon Sanderson",),
    author_asins: tuple[str | None, ...] = (SANDERSON,),
    released: date | None = date(2020, 1, 1),
    format_type: str = "unabridged",
    kind: str = "SinglePartBook",
    sku_lite: str | None = None,
    series: tuple[SeriesRef, ...] = (),
    language: str | None = "english",
) -> CatalogueProduct:
    return CatalogueProduct(
        asin=asin, title=title, sequence=None, sort=None, release_date=released,
        content_delivery_type=kind, format_type=format_type, sku_lite=sku_lite,
        authors=authors, series=series, publication_name=None, language=language,
        author_asins=author_asins,
    )  # fmt: skip


MISTBORN = SeriesRef("B0MISTBORN", "Mistborn", "1")
OWNED = [
    OwnedTitle("The Final Empire", "B002UZJGYY", ("Mistborn",)),
    OwnedTitle("The Well of Ascension", "B002UZMLXM", ("Mistborn",)),
    OwnedTitle("Warbreaker", "B00CWFTH62", ()),
]
SANDERSON_OWNED = OwnedAuthor("Brandon Sanderson", list(OWNED))
OWNED_PRODUCTS = [
    product("B002UZJGYY", "The Final Empire", series=(MISTBORN,), sku_lite="SKU-FINAL"),
    product("B002UZMLXM", "The Well of Ascension", series=(MISTBORN,)),
    product("B00CWFTH62", "Warbreaker"),
]


def check(found: list[CatalogueProduct], policy: AuthorPolicy | None = None) -> AuthorAssessment:
    listed = works("Brandon Sanderson", SANDERSON, found, TODAY)
    return assess(
        SANDERSON_OWNED, SANDERSON, listed, OWNED_PRODUCTS, series_texts(["Mistborn"]),
        policy or AuthorPolicy(), TODAY,
    )  # fmt: skip


# ------------------------------------------------------------------ who is monitored


def test_last_first_and_first_last_are_one_person() -> None:
    assert person_key("Le Guin, Ursula K.") == person_key("Ursula K. Le Guin")
    assert person_key("King, Jr.") != person_key("Jr. King")  # a suffix is no first name
    books = owned_authors([(("Le Guin, Ursula K.",), OWNED[0]), (("Ursula K. Le Guin",), OWNED[1])])
    assert [(a.name, len(a.books)) for a in books] == [("Le Guin, Ursula K.", 2)]


def test_one_owned_book_is_no_reason_to_monitor_a_prolific_author() -> None:
    one = OwnedAuthor("Stephen King", [OWNED[0]])
    assert monitored(one, AuthorPolicy()) == "owns 1 of 2"
    assert monitored(SANDERSON_OWNED, AuthorPolicy()) is None
    assert monitored(one, AuthorPolicy.of(allow=["King, Stephen"])) is None
    assert monitored(SANDERSON_OWNED, AuthorPolicy.of(allow=["Stephen King"])) == "not allowed"
    assert monitored(SANDERSON_OWNED, AuthorPolicy.of(deny=["Sanderson, Brandon"])) == "denied"


def test_the_authors_asin_comes_from_an_owned_books_product() -> None:
    co_written = product("B0COWRITE1", "The Original", authors=("Mary Robinette Kowal",
                         "Brandon Sanderson"), author_asins=("B004KOWAL0", SANDERSON))  # fmt: skip
    assert author_asin(SANDERSON_OWNED, [co_written]) == SANDERSON
    assert author_asin(SANDERSON_OWNED, [replace(co_written, author_asins=())]) is None


# ------------------------------------------------------------ what the author's works are


def test_editions_fold_into_one_work_and_box_sets_and_podcasts_are_no_work() -> None:
    found = works("Brandon Sanderson", SANDERSON, [
        product("B0TRESS001", "Tress of the Emerald Sea", sku_lite="SKU-TRESS"),
        product("B0TRESS002", "Tress of the Emerald Sea", sku_lite="SKU-TRESS",
                format_type="abridged"),
        product("B0ELANTRIS", "Elantris"),
        product("B0ELANTRI2", "Elantris", format_type="original_recording"),
        product("B0BOXSET01", "Mistborn Trilogy Boxed Set", kind="BookSeries"),
        product("B0PODCAST1", "Intentionally Blank", kind="PodcastParent"),
    ], TODAY)  # fmt: skip
    kept = {w.product.asin: w.editions for w in found}
    assert kept == {"B0TRESS001": 2, "B0ELANTRIS": 2}


def test_with_a_known_asin_a_namesake_is_not_the_author() -> None:
    namesake = product("B0OTHER001", "Another Brandon", author_asins=("B0NAMESAKE",))
    assert works("Brandon Sanderson", SANDERSON, [namesake], TODAY) == []
    [found] = works("Brandon Sanderson", None, [namesake], TODAY)
    assert not found.by_asin  # without the ASIN only the name can tell: less sure


# ----------------------------------------------------------------- what the library lacks


def test_owned_series_books_are_the_series_checks_and_owned_works_are_no_gap() -> None:
    result = check([
        product("B0MISTB003", "The Hero of Ages", series=(MISTBORN,)),
        product("B00CWFTH62", "Warbreaker"),  # owned by ASIN
        product("B0WARBR002", "Warbreaker", format_type="abridged"),  # the same, by title
        product("B0FINAL002", "The Final Empire (UK Edition)", sku_lite="SKU-FINAL"),
        product("B0TRESS001", "Tress of the Emerald Sea", released=date(2023, 1, 10)),
    ])  # fmt: skip
    assert [g.product.title for g in result.gaps] == ["Tress of the Emerald Sea"]
    assert (result.works, result.owned, result.missing, result.in_owned_series) == (4, 2, 1, 1)
    assert result.completion_status == "partial"


def test_unreleased_and_foreign_editions_are_not_missing() -> None:
    result = check([
        product("B0UNREL001", "Isles of the Emberdark", released=date(2027, 3, 1)),
        product("B0PLACE001", "Untitled Sanderson Book", released=date(2200, 1, 1)),
        product("B0GERMAN01", "Tress, die Piratin", language="german"),
    ])  # fmt: skip
    assert result.gaps == ()
    assert result.completion_status == "complete"


def test_a_cap_per_run_reports_the_newest_first_and_still_counts_the_rest() -> None:
    found = [
        product(f"B0BOOK{n:04d}", f"Standalone {n}", released=date(2010 + n, 1, 1))
        for n in range(10)
    ]
    result = check(found, AuthorPolicy(max_gaps_per_run=3))
    assert [g.product.title for g in result.gaps] == [
        "Standalone 9",
        "Standalone 8",
        "Standalone 7",
    ]
    assert result.missing == 10
    recent = check(found, AuthorPolicy(released_since=date(2018, 1, 1)))
    assert {g.product.title for g in recent.gaps} == {"Standalone 8", "Standalone 9"}


# ------------------------------------------------------------------------ how sure


@pytest.mark.parametrize(
    ("found", "asin", "confidence", "review"),
    [
        (product("B0TRESS001", "Tress of the Emerald Sea"), SANDERSON, 0.9, False),
        (product("B0DAWNSHRD", "Dawnshard", authors=("Brandon Sanderson", "Isaac Stewart"),
                 author_asins=(SANDERSON, "B0STEWART0")), SANDERSON, 0.8, False),
        (product("B0TRESS001", "Tress of the Emerald Sea", author_asins=()), None, 0.6, True),
        (product("B0INTERV01", "Brandon Sanderson in Conversation"), SANDERSON, 0.7, True),
    ],
)  # fmt: skip
def test_how_sure_a_gap_is_and_why(
    found: CatalogueProduct, asin: str | None, confidence: float, review: bool
) -> None:
    listed = works("Brandon Sanderson", asin, [found], TODAY)
    result = assess(SANDERSON_OWNED, asin, listed, OWNED_PRODUCTS, series_texts(["Mistborn"]),
                    AuthorPolicy(), TODAY)  # fmt: skip
    [gap] = result.gaps
    assert (gap.confidence, gap.needs_review) == (confidence, review)
    assert "Brandon Sanderson" in gap.evidence
    assert "released 2020-01-01" in gap.evidence
