"""Series gap detection on the cases that trip real gap finders."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.discovery.gaps import (
    CatalogueBook,
    CatalogueSeries,
    OwnedBook,
    OwnedSeries,
    find_gaps,
)
from services.discovery.sequences import parse_sequence
from services.discovery.titles import titles_match
from shared.text import title_text

TODAY = date(2026, 11, 24)


def product(
    n: str, title: str, *, asin: str | None = None, released: date | None = date(2020, 1, 1),
    kind: str = "SinglePartBook", fmt: str = "unabridged",
) -> CatalogueBook:  # fmt: skip
    return CatalogueBook(asin or f"B0{title[:8].upper().replace(' ', 'X'):X<8}", title, n, n,
                         released, kind, fmt, None, ("Mara Quill",))  # fmt: skip


SERIES = CatalogueSeries(
    "B0SERIES01",
    "The Lantern Keepers",
    tuple(product(str(n), f"Book Title {n}", asin=f"B0LANTERN{n}") for n in range(1, 6)),
)


def owned(
    title: str, n: str | None = None, asin: str | None = None, name: str = "The Lantern Keepers"
) -> OwnedBook:
    return OwnedBook(title, ("Mara Quill",), asin, (OwnedSeries(name, n),) if n else ())


def test_books_1_2_and_4_owned_leave_3_and_5_missing() -> None:
    library = [owned(f"Book Title {n}", str(n)) for n in (1, 2, 4)]
    result = find_gaps(SERIES, library, TODAY)
    assert [(g.sequence, g.book.asin, g.priority) for g in result.gaps] == [
        ("3", "B0LANTERN3", 2),  # a hole below the highest owned book
        ("5", "B0LANTERN5", 1),  # the next one to listen to
    ]
    assert (result.released_positions, result.owned_positions, result.completion_status) == (
        5, 3, "partial",
    )  # fmt: skip


def test_an_asin_match_wins_over_a_different_title() -> None:
    library = [owned("Completely Different Name", None, asin=f"B0LANTERN{n}") for n in range(1, 6)]
    result = find_gaps(SERIES, library, TODAY)
    assert result.gaps == ()
    assert result.completion_status == "complete"


def test_titles_match_despite_case_accents_subtitles_and_no_asin() -> None:
    series = CatalogueSeries("S", "Saga", (product("1", "Café Stories"), product("2", "Second")))
    library = [OwnedBook("CAFE STORIES: A Novel (Unabridged)", (), None, ())]
    assert [g.sequence for g in find_gaps(series, library, TODAY).gaps] == ["2"]


def test_an_owned_omnibus_covers_its_range() -> None:
    library = [owned("The First Three", "1-3"), owned("Book Title 5", "5")]
    assert [g.sequence for g in find_gaps(SERIES, library, TODAY).gaps] == ["4"]


def test_half_positions_are_gaps_too() -> None:
    series = CatalogueSeries("S", "Saga", (product("0.5", "Prequel Novella"), product("1", "One")))
    result = find_gaps(
        series, [OwnedBook("One", (), None, (OwnedSeries("Saga", "Book 1"),))], TODAY
    )
    assert [(g.sequence, g.priority) for g in result.gaps] == [("0.5", 2)]


def test_future_and_placeholder_releases_are_not_missing() -> None:
    series = CatalogueSeries("S", "Saga", (
        product("1", "One"),
        product("2", "Two", released=date(2027, 6, 1)),
        product("3", "Three", released=date(2200, 1, 1)),
    ))  # fmt: skip
    result = find_gaps(series, [OwnedBook("One", (), None, ())], TODAY)
    assert result.gaps == ()
    assert (result.released_positions, result.completion_status) == (1, "complete")


def test_box_sets_and_catalogue_omnibuses_never_create_gaps() -> None:
    series = CatalogueSeries("S", "Saga", (
        product("1", "One"), product("2", "Two"),
        product("1-2", "The Box", kind="BookSeries"), product("1-2", "Omnibus"),
    ))  # fmt: skip
    assert (
        find_gaps(
            series, [OwnedBook("One", (), None, ()), OwnedBook("Two", (), None, ())], TODAY
        ).gaps
        == ()
    )


def test_an_abridged_edition_of_an_owned_position_is_not_a_gap() -> None:
    series = CatalogueSeries("S", "Saga", (
        product("1", "One", asin="B0UNABRIDG"),
        product("1", "One", asin="B0ABRIDGED", fmt="abridged"),
    ))  # fmt: skip
    result = find_gaps(series, [OwnedBook("One", (), "B0ABRIDGED", ())], TODAY)
    assert result.gaps == ()


def test_the_unabridged_single_book_represents_its_position() -> None:
    series = CatalogueSeries("S", "Saga", (
        product("1", "One"),
        product("2, Dramatized Adaptation", "Two (Dramatized)", asin="B0DRAMATIZ",
                fmt="original_recording"),
        product("2", "Two", asin="B0TWOUNABR"),
    ))  # fmt: skip
    [gap] = find_gaps(series, [OwnedBook("One", (), None, ())], TODAY).gaps
    assert gap.book.asin == "B0TWOUNABR"


def test_owning_nothing_makes_every_released_position_a_gap() -> None:
    result = find_gaps(SERIES, [], TODAY)
    assert [g.priority for g in result.gaps] == [1, 3, 3, 3, 3]
    assert result.completion_status == "incomplete"


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("1", "1", "1"), ("01", "1", "1"), ("0.5", "0.5", "0.5"), ("1.5", "1.5", "1.5"),
        ("Book 2", "2", "2"), ("Vol. 3", "3", "3"), ("Volume 12", "12", "12"), ("#4", "4", "4"),
        ("1-3", "1", "3"), ("1\u20133", "1", "3"), ("1 - 3", "1", "3"), ("Book 1-3", "1", "3"),
        ("2, Dramatized Adaptation", "2", "2"),
    ],
)  # fmt: skip
def test_sequence_texts(text: str, first: str, last: str) -> None:
    parsed = parse_sequence(text)
    assert parsed is not None
    assert (parsed.first, parsed.last) == (Decimal(first), Decimal(last))


@pytest.mark.parametrize("text", [None, "", "Prequel", "  "])
def test_no_number_is_no_position(text: str | None) -> None:
    assert parse_sequence(text) is None


def test_title_matching_refuses_a_sequel() -> None:
    assert not titles_match("Dune", "Dune Messiah")
    assert titles_match("The Final Empire", "Final Empire, The")
    assert title_text("Élan: Vital (Book 1)") == "elan"


@given(st.sets(st.integers(min_value=1, max_value=5)))
def test_gaps_and_owned_positions_partition_the_released_ones(held: set[int]) -> None:
    library = [owned(f"Book Title {n}", str(n)) for n in held]
    result = find_gaps(SERIES, library, TODAY)
    missing = {int(g.position) for g in result.gaps}
    assert missing | held == {1, 2, 3, 4, 5}
    assert not missing & held
    assert sum(g.priority == 1 for g in result.gaps) == (1 if max(held, default=0) < 5 else 0)


def test_positions_stated_under_the_library_spelling_of_the_series_count() -> None:
    # The catalogue says "Lantern Keepers", the library "The Lantern Keepers"; the owned
    # books are neither the catalogue's ASINs nor its titles (an omnibus and a retitling).
    series = CatalogueSeries("B0SERIES01", "Lantern Keepers", SERIES.books)
    library = [owned("The First Three", "1-3"), owned("Keeper Five", "5")]
    assert [g.sequence for g in find_gaps(series, library, TODAY).gaps] == ["1", "2", "3", "4", "5"]
    assessed = find_gaps(series, library, TODAY, library_name="The Lantern Keepers")
    assert [g.sequence for g in assessed.gaps] == ["4"]
