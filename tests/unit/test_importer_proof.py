"""Proof before import, on real audio (ffmpeg-encoded, a few seconds, cached): a release
that is the wanted book passes; one that does not decode, or whose tags, language or
running time say it is another book, is refused with a reason a person can act on.

Tags follow real rips: the book in the album, often with extras ("(Unabridged)",
"Mistborn 2: …"), chapter names in the title ("Chapter 01" as m4b-tool and
Audiobookshelf's encoder name chapters, "01 - Prologue" as split-MP3 rips do), and the
author as (album) artist, sometimes "read by" the narrator (MusicBrainz's audiobook style).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from sandbox.audio import AudioTags, write_audio
from services.importer.listening import hear
from services.importer.proof import Heard, Refusal, Tags, Tolerance, span, verdict
from shared import events as ev

TITLE, AUTHOR = "The Well of Ascension", "Brandon Sanderson"
ALBUM = "Mistborn 2: The Well of Ascension (Unabridged)"
DEFAULT = Tolerance()
"""The importer's default: 15 %, at least 2 minutes."""


def book(
    title: str = TITLE, author: str = AUTHOR, series: str | None = "Mistborn", **expected: object
) -> ev.BookRef:
    """The wanted book, with what the catalogue says of it."""
    wants = ev.Expectations.model_validate(expected) if expected else None
    return ev.BookRef(title=title, author=author, series=series, series_number="2", expected=wants)


def rip(folder: Path, suffix: str = ".mp3", parts: int = 2, **tags: object) -> Path:
    """A release of `parts` chapter files tagged like a rip of the wanted book, `tags`
    overriding; its folder."""
    for n in range(1, parts + 1):
        chapter = {"title": f"Chapter {n:02d}", "author": AUTHOR, "album": ALBUM, **tags}
        write_audio(folder / f"{n:02d}{suffix}", AudioTags(**chapter, track=n, tracks=parts), 2.0)  # type: ignore[arg-type]
    return folder


async def proof(folder: Path, wanted: ev.BookRef, tolerance: Tolerance = DEFAULT) -> Refusal | None:
    """The verdict on every file of the folder, read as the importer reads them."""
    files = [(path.name, path) for path in files_in(folder)]
    return verdict(wanted, await hear(files, timeout_s=60), tolerance)


def files_in(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.is_file())


# ---------------------------------------------------------------------------- passing


@pytest.mark.parametrize("suffix", [".mp3", ".m4b"])
async def test_the_wanted_book_passes(tmp_path: Path, suffix: str) -> None:
    folder = rip(tmp_path, suffix, language="eng")
    # 4 s against a 1-minute catalogue entry: within the 2-minute floor of the tolerance
    assert await proof(folder, book(runtime_minutes=1, language="english")) is None


async def test_a_running_time_within_the_percentage_passes(tmp_path: Path) -> None:
    """The catalogue's 1 minute against 4 s of audio: a 95 % tolerance (and no floor)
    covers it, 90 % does not."""
    folder = rip(tmp_path)
    loose, strict = Tolerance(percent=95, minutes=0), Tolerance(percent=90, minutes=0)
    assert await proof(folder, book(runtime_minutes=1), loose) is None
    refused = await proof(folder, book(runtime_minutes=1), strict)
    assert refused is not None
    assert refused.code == "RUNTIME_MISMATCH"


async def test_an_album_with_series_and_edition_and_chapter_titles_passes(tmp_path: Path) -> None:
    assert await proof(rip(tmp_path, album=ALBUM), book()) is None
    assert await proof(rip(tmp_path, album="The Well of Ascension [Book 2]"), book()) is None


@pytest.mark.parametrize(
    "credit",
    [
        "Brandon Sanderson, Dan Wells",
        "Brandon Sanderson & Mary Robinette Kowal",
        "Sanderson, Brandon",
        "Brandon Sanderson read by Michael Kramer",
    ],
)
async def test_co_authors_and_other_spellings_of_the_author_pass(
    tmp_path: Path, credit: str
) -> None:
    assert await proof(rip(tmp_path, author=credit), book()) is None


async def test_a_co_author_of_the_credit_is_the_wanted_author(tmp_path: Path) -> None:
    folder = rip(tmp_path, author="Brandon Sanderson, Dan Wells", album="Shadows Beneath")
    assert await proof(folder, book(title="Shadows Beneath", author="Dan Wells")) is None


@pytest.mark.parametrize("tag", ["eng", "English", "en"])
async def test_the_language_written_as_a_code_passes(tmp_path: Path, tag: str) -> None:
    assert await proof(rip(tmp_path, ".m4b", language=tag), book(language="english")) is None


async def test_audio_without_tags_passes(tmp_path: Path) -> None:
    """A missing tag is never a refusal: nothing says it is another book."""
    folder = rip(tmp_path, title="", author="", album="")
    (heard,) = await hear([("01.mp3", folder / "01.mp3")], timeout_s=60)
    assert heard.tags == Tags()
    assert await proof(folder, book(language="english", runtime_minutes=1)) is None


# ---------------------------------------------------------------------------- refusals


async def test_audio_far_shorter_than_the_catalogue_says_is_refused(tmp_path: Path) -> None:
    refused = await proof(rip(tmp_path), book(runtime_minutes=16 * 60 + 41))
    assert refused == Refusal(
        "RUNTIME_MISMATCH", "the audio runs 4 s; the catalogue says 16 h 41 min"
    )


async def test_an_album_naming_another_book_is_refused(tmp_path: Path) -> None:
    refused = await proof(rip(tmp_path, album="Mistborn: The Final Empire (Unabridged)"), book())
    assert refused == Refusal(
        "WRONG_BOOK",
        "the tags name the book 'Mistborn: The Final Empire (Unabridged)', "
        "not 'The Well of Ascension'",
    )


async def test_a_title_naming_another_book_is_refused_when_there_is_no_album(
    tmp_path: Path,
) -> None:
    assert await proof(rip(tmp_path, album="", title="01 - Prologue"), book()) is None
    refused = await proof(rip(tmp_path, album="", title="The Hero of Ages"), book())
    assert refused is not None
    assert refused.code == "WRONG_BOOK"


async def test_another_author_is_refused(tmp_path: Path) -> None:
    refused = await proof(rip(tmp_path, author="Robin Hobb"), book())
    assert refused == Refusal("WRONG_BOOK", "the tags credit 'Robin Hobb', not 'Brandon Sanderson'")


@pytest.mark.parametrize(("suffix", "tag"), [(".m4b", "deu"), (".mp3", "ger"), (".mp3", "German")])
async def test_german_audio_for_an_english_book_is_refused(
    tmp_path: Path, suffix: str, tag: str
) -> None:
    refused = await proof(rip(tmp_path, suffix, language=tag), book(language="english"))
    assert refused == Refusal(
        "LANGUAGE_MISMATCH", f"the audio is tagged {tag!r} (german); the catalogue says english"
    )


async def test_an_empty_file_is_undecodable(tmp_path: Path) -> None:
    folder = rip(tmp_path)
    (folder / "02.mp3").write_bytes(b"")
    assert await proof(folder, book()) == Refusal("UNDECODABLE", "02.mp3 is empty (0 bytes)")


async def test_an_mp3_cut_short_is_undecodable(tmp_path: Path) -> None:
    """Its head and tail still decode and mutagen reports the header's running time;
    the header's byte count gives it away."""
    folder = rip(tmp_path)
    whole = (folder / "02.mp3").read_bytes()
    (folder / "02.mp3").write_bytes(whole[: len(whole) // 2])
    refused = await proof(folder, book())
    assert refused is not None
    assert refused.code == "UNDECODABLE"
    assert refused.reason.startswith("02.mp3 was cut short")


async def test_random_bytes_named_mp3_are_undecodable(tmp_path: Path) -> None:
    folder = rip(tmp_path)
    (folder / "02.mp3").write_bytes(random.Random(2).randbytes(20_000))
    assert await proof(folder, book()) == Refusal(
        "UNDECODABLE", "02.mp3 cannot be read as audio (can't sync to MPEG frame)"
    )


async def test_an_m4b_whose_audio_is_noise_does_not_decode(tmp_path: Path) -> None:
    """Its container is sound (mutagen reads the running time and tags): only decoding
    shows the audio stream is garbage."""
    folder = rip(tmp_path, ".m4b", parts=1)
    data = bytearray((folder / "01.m4b").read_bytes())
    start, end = data.index(b"mdat") + 4, data.index(b"moov") - 4
    data[start:end] = random.Random(1).randbytes(end - start)
    (folder / "01.m4b").write_bytes(bytes(data))
    refused = await proof(folder, book())
    assert refused is not None
    assert refused.code == "UNDECODABLE"
    assert refused.reason.startswith("01.m4b does not decode at its start: ")


# --------------------------------------------------------------- the rules, without files


def heard(seconds: float = 3600, **tags: str) -> list[Heard]:
    return [Heard("book.m4b", seconds, Tags(**tags))]


@pytest.mark.parametrize(
    ("title", "series", "album"),
    [
        ("Harry Potter and the Sorcerer's Stone", None, "Harry Potter and the Philosopher's Stone"),
        ("Words of Radiance", "The Stormlight Archive", "The Stormlight Archive, Book 2"),
        ("Words of Radiance", "The Stormlight Archive", "Words of Radiance (Part 1 of 2)"),
        ("The Colour of Magic", "Discworld", "The Color of Magic"),
        ("The Way of Kings", None, "Way of Kings"),
    ],
)
def test_albums_that_name_the_book_otherwise_pass(
    title: str, series: str | None, album: str
) -> None:
    assert verdict(book(title, series=series), heard(album=album), Tolerance()) is None


@pytest.mark.parametrize(
    ("title", "album"),
    [
        ("Harry Potter and the Chamber of Secrets", "Harry Potter and the Prisoner of Azkaban"),
        ("The Well of Ascension", "Mistborn 1 - The Final Empire"),
    ],
)
def test_another_book_of_the_same_series_is_refused(title: str, album: str) -> None:
    refused = verdict(book(title), heard(album=album), Tolerance())
    assert refused is not None
    assert refused.code == "WRONG_BOOK"


def test_a_narrator_credited_as_artist_is_no_other_author() -> None:
    wanted = book(narrators=["Michael Kramer"])
    assert verdict(wanted, heard(artist="Michael Kramer", album=TITLE), Tolerance()) is None
    assert verdict(book(), heard(artist="Various Artists", album=TITLE), Tolerance()) is None


def test_an_abridged_edition_wanted_may_be_shorter_but_not_longer() -> None:
    wanted = book(runtime_minutes=600, abridged=True)
    assert verdict(wanted, heard(seconds=4 * 3600), Tolerance()) is None
    refused = verdict(wanted, heard(seconds=12 * 3600), Tolerance())
    assert refused == Refusal(
        "RUNTIME_MISMATCH", "the audio runs 12 h 0 min; the catalogue says 10 h 0 min"
    )


def test_the_first_undecodable_file_is_named_before_any_other_refusal() -> None:
    files = [Heard("01.mp3", 60, Tags(album="Another Book")), Heard("02.mp3", fault="x")]
    assert verdict(book(), files, Tolerance()) == Refusal("UNDECODABLE", "02.mp3 x")


def test_running_times_read_as_people_say_them() -> None:
    assert [span(s) for s in (4, 42 * 60, 3 * 3600 + 2 * 60, 16 * 3600 + 41 * 60)] == [
        "4 s", "42 min", "3 h 2 min", "16 h 41 min",
    ]  # fmt: skip


def test_no_expectations_no_runtime_or_language_check() -> None:
    assert verdict(book(), heard(seconds=1, language="deu"), Tolerance()) is None
