"""The release rule: the right book, the preferred format, then the healthiest swarm."""

from __future__ import annotations

from pydantic import SecretStr

from services.downloader.release_selection import (
    Choice,
    Rejection,
    SelectionRules,
    Wanted,
    audio_format,
    choose_release,
)
from services.downloader.torznab import Release

MB = 1024 * 1024
RULES = SelectionRules(min_size_bytes=10 * MB, max_size_bytes=2000 * MB)
WANTED = Wanted("The Well of Ascension", "Brandon Sanderson")


def release(
    title: str, *, seeders: int = 5, size: int = 500 * MB, author: str | None = None
) -> Release:
    return Release(
        "idx", title, title, SecretStr("http://x/dl"), size, seeders, seeders, author=author
    )


def chosen(*releases: Release) -> str:
    result = choose_release(list(releases), WANTED, RULES)
    assert isinstance(result, Choice), result
    return result.release.title


def test_m4b_is_preferred_to_mp3_even_with_fewer_seeders() -> None:
    assert chosen(
        release("Brandon Sanderson - The Well of Ascension [mp3]", seeders=50),
        release("Brandon Sanderson - The Well of Ascension [m4b]", seeders=2),
    ).endswith("[m4b]")


def test_seeders_break_a_tie_between_the_same_format() -> None:
    assert chosen(
        release("The Well of Ascension - Sanderson m4b", seeders=3),
        release("Sanderson - The Well of Ascension (Unabridged) m4b", seeders=30),
    ).startswith("Sanderson")


def test_an_unknown_format_comes_after_the_preferred_ones() -> None:
    assert chosen(
        release("The Well of Ascension audiobook", seeders=99),
        release("The Well of Ascension mp3", seeders=1),
    ).endswith("mp3")


def test_another_book_of_the_series_is_not_this_book() -> None:
    result = choose_release([release("Brandon Sanderson - The Final Empire [m4b]")], WANTED, RULES)
    assert isinstance(result, Rejection)
    assert result.reason_code == "NO_MATCHING_RELEASE"
    assert result.details["dropped"] == {"title_mismatch": 1}


def test_the_same_title_by_another_author_is_refused() -> None:
    impostor = release("The Well of Ascension [m4b]", author="Someone Else Entirely")
    result = choose_release([impostor], WANTED, RULES)
    assert isinstance(result, Rejection)
    assert result.details["dropped"] == {"author_mismatch": 1}


def test_size_bounds_and_seeders_drop_releases_with_reasons() -> None:
    result = choose_release(
        [
            release("The Well of Ascension m4b", size=1 * MB),
            release("The Well of Ascension m4b", seeders=0),
        ],
        WANTED,
        RULES,
    )
    assert isinstance(result, Rejection)
    assert result.details["dropped"] == {"size_out_of_bounds": 1, "too_few_seeders": 1}
    assert "2 releases found" in result.reason


def test_nothing_found_is_no_release() -> None:
    result = choose_release([], WANTED, RULES)
    assert isinstance(result, Rejection)
    assert result.reason_code == "NO_RELEASE"


def test_formats_are_read_from_the_title() -> None:
    assert audio_format("Book [M4B] 64kbps") == "m4b"
    assert audio_format("Book (MP3, 320)") == "mp3"
    assert audio_format("Book") is None
