"""The library layout: folder names Audiobookshelf reads as the right author, series,
position and title, and path components that are always safe.

`abs_reads` is a line-by-line port of Audiobookshelf's folder-name parser
(`server/utils/scandir.js`, `getBookDataFromDir`, v2.36), so these tests check what ABS
would make of our folders, not what we hope it would.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.importer.layout import (
    MAX_COMPONENT_BYTES,
    arrange_files,
    book_folder,
    position,
    sanitise,
    sanitise_file_name,
)
from shared.events import BookRef

# --------------------------------------------------------------- Audiobookshelf, ported

_ABS_ASIN = re.compile(r"(?: |^)\[([A-Z0-9]{10})](?= |$)")
_ABS_NARRATOR = re.compile(r"^(?P<title>.*) \{(?P<narrators>.*)\}$")
_ABS_SEQUENCE = re.compile(
    r"(?P<label>vol\.? |volume |book )?(?P<sequence>\d{0,3}(?:\.\d{1,2})?)(?P<dot>\.?)"
    r"(?: (?P<suffix>.*))?",
    re.IGNORECASE | re.ASCII,
)
_ABS_YEAR = re.compile(r"^ *\(?([0-9]{4})\)? * - *(.+)")


def abs_reads(rel_path: str) -> dict[str, Any]:
    """What Audiobookshelf reads from a book folder's path (subtitle parsing off)."""
    split = rel_path.split("/")
    folder = split.pop()
    series = split.pop() if len(split) > 1 else None
    author = split.pop() if split else None
    asin = None
    if match := _ABS_ASIN.search(folder):
        asin, folder = match[1], folder.replace(match[0], "", 1)
    folder = folder.strip()
    narrators = None
    if match := _ABS_NARRATOR.match(folder):
        folder, narrators = match["title"], match["narrators"]
    sequence = None
    if series:
        folder, sequence = _abs_sequence(folder)
    year = None
    if match := _ABS_YEAR.match(folder):
        year, folder = match[1], match[2]
    return {
        "author": author,
        "series": series,
        "sequence": sequence,
        "year": year,
        "title": folder,
        "asin": asin,
        "narrators": narrators,
    }


def _abs_sequence(folder: str) -> tuple[str, str | None]:
    parts = folder.split(" - ")
    for i, part in enumerate(parts):
        match = _ABS_SEQUENCE.fullmatch(part)
        if match and not (match["suffix"] and not (match["label"] or match["dot"])):
            number = float(match["sequence"] or "0")  # JavaScript: Number("") is 0
            sequence = str(int(number)) if number.is_integer() else repr(number)
            if match["suffix"]:
                parts[i] = match["suffix"]
            else:
                del parts[i]
            return " - ".join(parts), sequence
    return folder, None


def reads(book: BookRef) -> dict[str, Any]:
    """What ABS reads from the book's folder name."""
    return abs_reads(str(book_folder(book)))


# ------------------------------------------------------------------------------- layout


def test_a_numbered_series_book_gets_a_vol_folder() -> None:
    book = BookRef(title="The Well of Ascension", author="Brandon Sanderson", series="Mistborn")
    numbered = book.model_copy(update={"series_number": "2"})
    assert book_folder(numbered) == PurePosixPath(
        "Brandon Sanderson/Mistborn/Vol. 2 - The Well of Ascension"
    )
    assert reads(numbered) == {
        "author": "Brandon Sanderson",
        "series": "Mistborn",
        "sequence": "2",
        "year": None,
        "title": "The Well of Ascension",
        "asin": None,
        "narrators": None,
    }


@pytest.mark.parametrize(
    ("number", "folder", "abs_sequence"),
    [
        ("3", "Vol. 3 - T", "3"),
        ("0.5", "Vol. 0.5 - T", "0.5"),
        ("12.25", "Vol. 12.25 - T", "12.25"),
        # ABS reads no range and no position over three digits (or two decimals): it
        # would leave "Vol. 4-6" in the title, so the folder is the title alone and
        # metadata.json carries the position.
        ("1-3", "T", None),
        (" 1 - 3 ", "T", None),
        ("4-6", "T", None),
        ("1000", "T", None),
        ("2024", "T", None),
        ("0.125", "T", None),
        ("#4", "Vol. 4 - T", "4"),
        ("007", "Vol. 007 - T", "7"),
        ("999", "Vol. 999 - T", "999"),
    ],
)
def test_positions_are_written_as_abs_reads_them(
    number: str, folder: str, abs_sequence: str | None
) -> None:
    book = BookRef(title="T", author="A", series="S", series_number=number)
    assert book_folder(book) == PurePosixPath("A", "S", folder)
    assert reads(book)["sequence"] == abs_sequence
    assert reads(book)["title"] == "T"


@pytest.mark.parametrize(
    ("number", "title"),
    [("4-6", "Omnibus Two"), ("1-3", "The First Trilogy"), ("1000", "Long Runner"),
     ("10-12", "Box Set Four")],
)  # fmt: skip
def test_a_range_or_a_long_position_is_not_read_into_the_title(number: str, title: str) -> None:
    """ "Vol. 4-6 - Omnibus Two" was read with "Vol. 4-6" in the title."""
    facts = reads(BookRef(title=title, author="A", series="S", series_number=number))
    assert (facts["title"], facts["sequence"]) == (title, None)


@pytest.mark.parametrize(
    ("author", "folder"),
    [
        ("Le Guin, Ursula K.", "Ursula K. Le Guin"),  # the dot would be lost: "Ursula K Le Guin"
        ("Tolkien, J.R.R.", "J.R.R. Tolkien"),
        ("Pratchett, Terry", "Terry Pratchett"),
        ("Ursula K. Le Guin", "Ursula K. Le Guin"),
        ("Martin, George R. R.", "George R. R. Martin"),
        ("Smith, Jr.", "Smith, Jr"),  # a suffix is not a first name
        ("Friedman, Milton & Friedman, Rose", "Friedman, Milton & Friedman, Rose"),
    ],
)
def test_a_last_first_author_keeps_its_initials_in_the_folder(author: str, folder: str) -> None:
    assert book_folder(BookRef(title="T", author=author)).parts[0] == folder


def test_a_series_book_without_position_sits_in_the_series_folder() -> None:
    book = BookRef(title="Side Story", author="A", series="S")
    assert book_folder(book) == PurePosixPath("A/S/Side Story")
    assert reads(book) | {"sequence": None} == reads(book)


def test_a_book_outside_any_series_sits_under_its_author() -> None:
    book = BookRef(title="Solo", author="A", series_number="3")
    assert book_folder(book) == PurePosixPath("A/Solo")
    assert reads(book)["series"] is None


@pytest.mark.parametrize("author", [None, "", "  ", "..."])
def test_an_unknown_author_is_named_so(author: str | None) -> None:
    assert book_folder(BookRef(title="T", author=author, series="S")) == PurePosixPath(
        "Unknown Author/S/T"
    )


def test_a_blank_series_counts_as_none() -> None:
    assert book_folder(BookRef(title="T", author="A", series=" ", series_number="2")) == (
        PurePosixPath("A/T")
    )


def test_every_part_of_the_folder_is_sanitised() -> None:
    book = BookRef(title="AC/DC: Live?", author="../..", series="a\\b", series_number="1/2")
    folder = book_folder(book)
    assert folder == PurePosixPath("Unknown Author/a b/AC DC Live")  # "1 2": no position ABS reads
    assert ".." not in folder.parts


@pytest.mark.parametrize(
    ("title", "series_number"),
    [
        ("1984", "2"),
        ("300", "1"),
        ("12. Monkeys", "4"),
        ("2001 - A Space Odyssey", "3"),
        ("(1999) - Party", "3"),
        ("1984-85 Season", "3"),
        ("Book 2 - The Return", "5"),
        ("Vol. 3", "6"),
        ("0.5 - Novella", "7"),
    ],
)
def test_a_title_starting_with_digits_is_not_read_as_position_or_year(
    title: str, series_number: str
) -> None:
    book = BookRef(title=title, author="A", series="S", series_number=series_number)
    facts = reads(book)
    assert (facts["sequence"], facts["year"]) == (series_number, None)
    assert reads(book)["title"].replace("\u2013", "-") == title


@pytest.mark.parametrize("number", [None, "1-3"])
@pytest.mark.parametrize("title", ["The Return - 2", "Omnibus - Book 4", "Tales - 6. Night"])
def test_pieces_of_a_title_are_not_read_as_the_position(title: str, number: str | None) -> None:
    facts = reads(BookRef(title=title, author="A", series="S", series_number=number))
    assert facts["sequence"] is None


@pytest.mark.parametrize("title", ["2001 - A Space Odyssey", "(1999)-Party", "1984 -Foo"])
def test_a_title_starting_with_a_year_is_not_read_as_one_outside_a_series(title: str) -> None:
    facts = reads(BookRef(title=title, author="A"))
    assert facts["year"] is None
    assert facts["sequence"] is None


@pytest.mark.parametrize(
    "title", ["Dune [UNABRIDGED]", "[B0ABCDEFGH] Heist", "Tales {Full Cast}", "A {b} c"]
)
def test_a_title_is_not_read_as_an_asin_or_narrators(title: str) -> None:
    for book in (
        BookRef(title=title, author="A"),
        BookRef(title=title, author="A", series="S", series_number="1"),
    ):
        facts = reads(book)
        assert (facts["asin"], facts["narrators"]) == (None, None)


_TITLE_CHARACTERS = st.sampled_from(list("0123456789 -.()[]{}#ABCDEFGHIJKLMNOPQRSTUVWXYZvol"))
_TITLES = st.text(_TITLE_CHARACTERS, min_size=1, max_size=40) | st.text(min_size=1, max_size=60)
_READABLE = st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,2})?", fullmatch=True)


@given(title=_TITLES, number=_READABLE)
def test_abs_reads_the_position_and_nothing_else_from_a_numbered_folder(
    title: str, number: str
) -> None:
    facts = reads(BookRef(title=title, author="A", series="S", series_number=number))
    expected = float(number)
    assert facts["sequence"] == (str(int(expected)) if expected.is_integer() else repr(expected))
    assert (facts["year"], facts["asin"], facts["narrators"]) == (None, None, None)


@given(title=_TITLES, series=st.sampled_from([None, "S"]))
def test_abs_reads_no_year_asin_or_narrators_from_any_title(title: str, series: str | None) -> None:
    facts = reads(BookRef(title=title, author="A", series=series))
    assert (facts["year"], facts["asin"], facts["narrators"]) == (None, None, None)


def test_a_long_title_still_fits_one_component() -> None:
    book = BookRef(title="Ω - " * 100, author="A", series="S", series_number="2")
    name = book_folder(book).name
    assert len(name.encode()) <= MAX_COMPONENT_BYTES
    assert name.startswith("Vol. 2 - Ω")


def test_positions_are_one_token() -> None:
    assert position(" 1 - 3 ") == "1-3"
    assert position("#2") == "2"
    assert position("  ") is None
    assert position(None) is None


# ----------------------------------------------------------------------------- sanitise


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("AC/DC: Live?", "AC DC Live"),
        ('a*b?c"d<e>f|g\\h', "a b c d e f g h"),
        ("..", "Unknown"),
        (".", "Unknown"),
        ("", "Unknown"),
        ("  ...  ", "Unknown"),
        ("name. ", "name"),
        ("trailing dots...", "trailing dots"),
        ("...hidden", "hidden"),
        ("a\tb\x07c\nd\x7fe", "a b c d e"),
        ("many    spaces\u00a0here", "many spaces here"),
        ("cafe\u0301", "caf\u00e9"),  # NFC: the composed form, as most tools write it
        ("evil\u202egpj.mp3", "evil gpj.mp3"),  # a bidi override cannot disguise a name
        ("lone \udce9 surrogate", "lone surrogate"),
    ],
)
def test_names_are_sanitised(raw: str, safe: str) -> None:
    assert sanitise(raw) == safe


def test_an_empty_name_gets_the_fallback() -> None:
    assert sanitise("???", fallback="Unknown Author") == "Unknown Author"


@pytest.mark.parametrize(("character", "count"), [("é", 90), ("a", 180), ("😀", 45), ("中", 60)])
def test_long_names_are_cut_on_a_character_boundary(character: str, count: int) -> None:
    cut = sanitise(character * 300)
    assert cut == character * count
    assert len(cut.encode()) <= MAX_COMPONENT_BYTES


def test_a_cut_never_ends_in_a_dot_or_space() -> None:
    assert sanitise("a" * 178 + " .b") == "a" * 178


@given(st.text())
def test_any_name_becomes_one_safe_component(raw: str) -> None:
    safe = sanitise(raw)
    assert safe not in ("", ".", "..")
    assert not set(safe) & set('/\\:*?"<>|')
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in safe)
    assert safe == safe.strip(" .")
    assert len(safe.encode()) <= MAX_COMPONENT_BYTES
    assert unicodedata.is_normalized("NFC", safe)
    assert sanitise(safe) == safe


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("01 - Chapter.mp3", "01 - Chapter.mp3"),
        ("..mp3", "Unknown.mp3"),
        ("what?.M4B", "what.M4B"),
        ("no extension", "no extension"),
        (".hidden.mp3", "hidden.mp3"),
    ],
)
def test_file_names_keep_their_extension(raw: str, safe: str) -> None:
    assert sanitise_file_name(raw) == safe


def test_a_long_file_name_is_cut_before_its_extension() -> None:
    name = sanitise_file_name("é" * 200 + ".flac")
    assert name.endswith(".flac")
    assert len(name.encode()) <= MAX_COMPONENT_BYTES


# ------------------------------------------------------------------------ arrange_files

_DISC = re.compile(r"^(cd|dis[ck])\s*\d{1,3}$", re.IGNORECASE)


def _arranged(files: list[str], audio: list[str]) -> list[str]:
    paths = [PurePosixPath(f) for f in files]
    return [str(p) for p in arrange_files(paths, [PurePosixPath(a) for a in audio])]


def test_flat_and_disc_layouts_stay_as_they_are() -> None:
    files = ["01.mp3", "CD1/01.mp3", "Disc 2/01.mp3", "cover.jpg"]
    assert _arranged(files, files[:3]) == files


def test_a_lone_disc_folder_is_kept() -> None:
    assert _arranged(["Release/CD1/a.mp3"], ["Release/CD1/a.mp3"]) == ["CD1/a.mp3"]


def test_folders_holding_all_the_audio_are_dropped() -> None:
    files = ["Release/Audio/CD1/a.mp3", "Release/Audio/CD2/a.mp3", "Release/Audio/c.jpg", "x.nfo"]
    assert _arranged(files, files[:2]) == ["CD1/a.mp3", "CD2/a.mp3", "c.jpg", "x.nfo"]


def test_other_folders_are_folded_into_the_file_name() -> None:
    files = ["Part 1/01.mp3", "Part 2/01.mp3", "Scans/Back: Cover.jpg"]
    assert _arranged(files, files[:2]) == [
        "Part 1 - 01.mp3",
        "Part 2 - 01.mp3",
        "Scans - Back Cover.jpg",
    ]


_PATH_PART = st.sampled_from(["CD1", "Disc 2", "Part 1", "x", "Release", "a:b"])


@given(
    st.lists(
        st.lists(_PATH_PART, max_size=3).map(lambda p: PurePosixPath(*p, "f.mp3")),
        min_size=1,
        max_size=6,
        unique=True,
    )
)
def test_arranged_audio_is_what_abs_reads_as_one_book(audio: list[PurePosixPath]) -> None:
    for placed in arrange_files(audio, audio):
        assert len(placed.parts) == 1 or (len(placed.parts) == 2 and _DISC.match(placed.parts[0]))
