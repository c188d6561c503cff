"""The same book under another spelling, with a typo, or as another edition (issue:
"names and numbers as the world writes them", class 2): an owned book was reported
missing, or the right release rejected."""

from __future__ import annotations

import pytest

from services.discovery.titles import titles_match
from services.downloader.release_selection import SelectionRules, Wanted, title_score


@pytest.mark.parametrize(
    ("library", "catalogue"),
    [
        # British and American editions of one book
        ("The Armour of Light", "The Armor of Light"),
        ("The Colour of Magic", "The Color of Magic"),
        ("Colour of Magic", "The Color of Magic"),
        ("Grey Sister", "Gray Sister"),
        ("Theatre of the Gods", "Theater of the Gods"),
        ("The Honour of the Queen", "The Honor of the Queen"),
        ("The Travelling Cat Chronicles", "The Traveling Cat Chronicles"),
        ("The Colours of Space", "The Colors of Space"),
        # one word mistyped in a short title
        ("Small Godz", "Small Gods"),
        ("Guards! Gaurds!", "Guards! Guards!"),
        ("The Way of Kigns", "The Way of Kings"),
        # an edition suffix names a printing, not another book
        ("Mistborn 3rd Edition", "Mistborn"),
        ("Mistborn rev. ed.", "Mistborn"),
        ("The Hobbit, 75th Anniversary Edition", "The Hobbit"),
        ("American Gods Tenth Anniversary Edition", "American Gods"),
        ("Neverwhere (Author's Preferred Text)", "Neverwhere"),
        ("Dune: Deluxe Edition", "Dune"),
    ],
)
def test_the_same_book_written_otherwise_is_the_same_book(library: str, catalogue: str) -> None:
    assert titles_match(library, catalogue)


@pytest.mark.parametrize(
    ("library", "catalogue"),
    [
        ("Dune", "Dune Messiah"),  # a sequel is not the book
        ("Mort", "Fort"),  # one word changed by a letter is another word
        ("Small Gods", "Small Fry"),
        ("Four Past Midnight", "For Past Midnight"),  # a short word: not a typo allowance
        ("Hour of the Dragon", "Honor of the Dragon"),
        ("Men at Arms", "Men at War"),
    ],
)
def test_a_different_book_is_still_different(library: str, catalogue: str) -> None:
    assert not titles_match(library, catalogue)


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Mistborn", "Brandon Sanderson - Mistborn rev. ed. [m4b]"),
        ("The Hobbit", "J.R.R. Tolkien - The Hobbit 75th Anniversary Edition (2012) [mp3]"),
        ("The Armour of Light", "Ken Follett - The Armor of Light [m4b]"),
    ],
)
def test_a_release_of_another_edition_or_spelling_is_not_rejected(title: str, name: str) -> None:
    assert title_score(Wanted(title), name) >= SelectionRules().title_threshold
