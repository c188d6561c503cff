"""Series positions as catalogues, trackers and libraries write them (issue: "names and
numbers as the world writes them", class 1: positions without a leading zero)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.discovery.gaps import (
    CatalogueBook,
    CatalogueSeries,
    OwnedBook,
    OwnedSeries,
    find_gaps,
)
from services.discovery.sequences import parse_sequence

TODAY = date(2026, 12, 5)


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        # a fraction with its leading zero left out: a novella before book 1, or between
        (".5", "0.5", "0.5"),
        ("Vol .5", "0.5", "0.5"),
        ("Book .5", "0.5", "0.5"),
        ("#.5", "0.5", "0.5"),
        ("(.5)", "0.5", "0.5"),
        ("[.5]", "0.5", "0.5"),
        ("Novella .5", "0.5", "0.5"),
        ("Book .5 - 1", "0.5", "1"),
        # written whole, or attached to an abbreviation: what it always meant
        ("0.5", "0.5", "0.5"),
        ("Book 0.5", "0.5", "0.5"),
        ("#0.5", "0.5", "0.5"),
        ("Vol.5", "5", "5"),
        ("Vol.05", "5", "5"),
        ("Vol. 5", "5", "5"),
        ("Bk.5", "5", "5"),
        ("No.5", "5", "5"),
        ("Book 4.5", "4.5", "4.5"),
        ("10.5", "10.5", "10.5"),
        ("Book 1.5-2", "1.5", "2"),
    ],
)
def test_positions_are_read_as_written(text: str, first: str, last: str) -> None:
    assert parse_sequence(text) == parse_sequence_of(first, last)


def parse_sequence_of(first: str, last: str) -> object:
    from services.discovery.sequences import Positions

    return Positions(Decimal(first), Decimal(last))


def _book(sequence: str, title: str, asin: str) -> CatalogueBook:
    return CatalogueBook(asin, title, sequence, sequence, date(2020, 1, 1), "SinglePartBook",
                         "unabridged", None, ("Mara Quill",))  # fmt: skip


def test_a_novella_written_vol_point_5_does_not_fill_the_gap_of_book_5() -> None:
    """It parsed as 5: book 5's gap was filled with the novella and book 5 never fetched."""
    series = CatalogueSeries(
        "B0SERIES01",
        "The Lantern Keepers",
        (
            _book("Vol .5", "A Lantern Lit", "B0NOVELLA5"),
            *(_book(str(n), f"Book Title {n}", f"B0LANTERN{n}") for n in range(1, 6)),
        ),
    )
    library = [
        OwnedBook(
            f"Book Title {n}",
            ("Mara Quill",),
            f"B0LANTERN{n}",
            (OwnedSeries("The Lantern Keepers", str(n)),),
        )
        for n in range(1, 5)
    ]
    gaps = find_gaps(series, library, TODAY).gaps
    assert [(g.sequence, g.book.asin) for g in gaps] == [
        ("0.5", "B0NOVELLA5"),
        ("5", "B0LANTERN5"),
    ]
