"""Release names as scene groups and trackers write them (issue: "names and numbers as
the world writes them", class 3). Scene names join words with "_" or "." and fields with
"-", and end in source, language and year tags and the release group; the right release
was rejected as `title_mismatch` and nothing downloaded."""

from __future__ import annotations

import pytest

from services.downloader.release_selection import (
    Choice,
    SelectionRules,
    Wanted,
    choose_release,
    title_score,
)
from tests.unit.test_downloader_release_selection import release

RULES = SelectionRules(min_size_bytes=0)


@pytest.mark.parametrize(
    ("title", "author", "name"),
    [
        ("Project Hail Mary", "Andy Weir", "Andy_Weir-Project_Hail_Mary-AUDIOBOOK-WEB-EN-2021-FiH"),
        ("Dune", "Frank Herbert", "Frank_Herbert-Dune-AUDIOBOOK-WEB-EN-2007-GRP"),
        ("The Institute", "Stephen King", "Stephen.King.The.Institute.2019.AUDIOBOOK.MP3-GRP"),
        ("Small Gods", "Terry Pratchett",
         "Terry_Pratchett-Small_Gods-(Unabridged)-2CD-RIP-2014-GRP"),
        ("Norse Mythology", "Neil Gaiman", "Neil.Gaiman-Norse.Mythology.2017.192kbps.MP3"),
        ("The Martian", "Andy Weir", "The.Martian.by.Andy.Weir.Unabridged.M4B"),
        ("Recursion", "Blake Crouch", "Blake_Crouch-Recursion-WEBRIP-64KBPS-ENG-2019-GRP"),
        ("Leviathan Wakes", "James S. A. Corey",
         "James_S_A_Corey-Leviathan_Wakes-Retail-CD-2011-GRP"),
        ("Project Hail Mary", "Andy Weir", "Andy Weir-Project Hail Mary-2021-FiH"),
        ("Project Hail Mary", "Andy Weir", "Andy Weir - Project Hail Mary (2021) [M4B] [64kbps]"),
        ("Spider-Man: Forever Young", "Stefan Petrucha",
         "Stefan Petrucha - Spider-Man - Forever Young [m4b]"),
    ],
)  # fmt: skip
def test_the_right_release_is_recognised_in_its_scene_or_tracker_name(
    title: str, author: str, name: str
) -> None:
    wanted = Wanted(title, author)
    assert title_score(wanted, name) >= RULES.title_threshold
    assert isinstance(choose_release([release(name)], wanted, RULES), Choice)


@pytest.mark.parametrize(
    ("title", "author", "name"),
    [
        ("Project Hail Mary", "Andy Weir", "Andy_Weir-Artemis-AUDIOBOOK-WEB-EN-2017-FiH"),
        ("Dune", "Frank Herbert", "Frank_Herbert-Dune_Messiah-AUDIOBOOK-WEB-EN-2007-GRP"),
        ("Dune", "Frank Herbert", "Frank.Herbert.Children.of.Dune.1976.MP3-GRP"),
        ("Small Gods", "Terry Pratchett", "Terry_Pratchett-Night_Watch-2CD-RIP-2002-GRP"),
    ],
)  # fmt: skip
def test_another_book_in_a_scene_name_is_still_refused(title: str, author: str, name: str) -> None:
    assert title_score(Wanted(title, author), name) < RULES.title_threshold


@pytest.mark.parametrize("title", ["?", "...", "!!!", "—"])
def test_a_title_of_punctuation_alone_matches_no_name_of_format_words(title: str) -> None:
    """It normalised to nothing, and nothing scored 100 against "M4B" or "MP3 64kbps"."""
    for name in ("M4B", "MP3 64kbps", "[Unabridged] [M4B]"):
        assert title_score(Wanted(title), name) == 0.0
