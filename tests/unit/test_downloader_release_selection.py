"""The release rule: the right book, the preferred format, then the healthiest swarm."""

from __future__ import annotations

import pytest
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
WANTED = Wanted("The Well of Ascension", "Brandon Sanderson", "Mistborn", "2")
DUNE = Wanted("Dune", "Frank Herbert", "Dune", "1")


def release(
    title: str,
    *,
    seeders: int = 5,
    size: int = 500 * MB,
    author: str | None = None,
    booktitle: str | None = None,
    freeleech: bool = False,
) -> Release:
    return Release(
        "idx",
        title,
        title,
        SecretStr("http://x/dl?apikey=k"),
        size,
        seeders,
        seeders,
        author=author,
        booktitle=booktitle,
        download_volume_factor=0.0 if freeleech else 1.0,
    )


def chosen(*releases: Release, wanted: Wanted = WANTED) -> str:
    result = choose_release(list(releases), wanted, RULES)
    assert isinstance(result, Choice), result
    return result.release.title


def rejected(*releases: Release, wanted: Wanted = WANTED) -> Rejection:
    result = choose_release(list(releases), wanted, RULES)
    assert isinstance(result, Rejection), result
    return result


def test_m4b_is_preferred_to_mp3_even_with_fewer_seeders() -> None:
    assert chosen(
        release("Brandon Sanderson - The Well of Ascension [mp3]", seeders=50),
        release("Brandon Sanderson - The Well of Ascension [m4b]", seeders=2),
    ).endswith("[m4b]")


def test_the_format_order_is_the_users() -> None:
    rules = SelectionRules(format_preference=("mp3", "m4b"), min_size_bytes=0)
    result = choose_release(
        [release("The Well of Ascension m4b"), release("The Well of Ascension mp3")], WANTED, rules
    )
    assert isinstance(result, Choice)
    assert result.release.title.endswith("mp3")


def test_seeders_break_a_tie_between_the_same_format() -> None:
    assert chosen(
        release("The Well of Ascension - Sanderson m4b", seeders=3),
        release("Sanderson - The Well of Ascension (Unabridged) m4b", seeders=30),
    ).startswith("Sanderson")


def test_freeleech_comes_before_more_seeders_in_the_same_format() -> None:
    assert chosen(
        release("The Well of Ascension [m4b]", seeders=40),
        release("The Well of Ascension [m4b] FL", seeders=3, freeleech=True),
    ).endswith("FL")


def test_an_unknown_format_comes_after_the_preferred_ones() -> None:
    assert chosen(
        release("The Well of Ascension audiobook", seeders=99),
        release("The Well of Ascension mp3", seeders=1),
    ).endswith("mp3")


@pytest.mark.parametrize(
    "name",
    [
        "Brandon Sanderson - Mistborn 02 - The Well of Ascension (Unabridged) [m4b]",
        "The Well of Ascension by Brandon Sanderson [ENG / M4B]",
        "Mistborn: The Well of Ascension",
        "Brandon.Sanderson.The.Well.of.Ascension.2007.M4B",
        "The Well of Ascension - Michael Kramer [m4b] 64kbps",
        "Well Of Ascension, The",
    ],
)
def test_the_ways_release_names_dress_a_title_still_match(name: str) -> None:
    assert chosen(release(name)) == name


@pytest.mark.parametrize(
    "name",
    [
        "Frank Herbert - Dune Messiah [m4b]",
        "Children of Dune (Unabridged) m4b",
        "Frank Herbert - Dune 2 - Dune Messiah",
        "Dune Chronicles 1-3 [mp3]",
    ],
)
def test_another_book_whose_title_contains_this_one_is_refused(name: str) -> None:
    result = rejected(release(name), wanted=DUNE)
    assert result.details["dropped"] == {"title_mismatch": 1}


def test_the_right_dune_is_taken_among_its_sequels() -> None:
    assert (
        chosen(
            release("Frank Herbert - Dune Messiah [m4b]", seeders=90),
            release("Frank Herbert - Dune 01 - Dune [m4b]", seeders=2),
            release("Children of Dune [m4b]", seeders=50),
            wanted=DUNE,
        )
        == "Frank Herbert - Dune 01 - Dune [m4b]"
    )


def test_another_book_of_the_series_is_not_this_book() -> None:
    result = rejected(release("Brandon Sanderson - Mistborn 03 - The Hero of Ages [m4b]"))
    assert result.reason_code == "NO_MATCHING_RELEASE"
    assert result.details["dropped"] == {"title_mismatch": 1}


def test_the_booktitle_attribute_outranks_a_misleading_name() -> None:
    result = rejected(release("The Well of Ascension and more [m4b]", booktitle="The Hero of Ages"))
    assert result.details["dropped"] == {"title_mismatch": 1}


def test_accents_case_and_ampersands_do_not_matter() -> None:
    wanted = Wanted("Pride & Prejudice", "Jane Austen")
    assert chosen(release("JANE AUSTEN - Pride and Préjudice [m4b]"), wanted=wanted)


def test_the_same_title_by_another_author_is_refused() -> None:
    impostor = release("The Well of Ascension [m4b]", author="Someone Else Entirely")
    assert rejected(impostor).details["dropped"] == {"author_mismatch": 1}


def test_an_author_attribute_naming_co_authors_is_accepted() -> None:
    shared = release("The Well of Ascension [m4b]", author="Brandon Sanderson, Someone Else")
    assert chosen(shared)


def test_size_bounds_and_seeders_drop_releases_with_reasons() -> None:
    result = rejected(
        release("The Well of Ascension m4b", size=1 * MB),
        release("The Well of Ascension m4b", size=3000 * MB),
        release("The Well of Ascension m4b", seeders=0),
    )
    assert result.reason_code == "NO_MATCHING_RELEASE"
    assert result.details["dropped"] == {"size_out_of_bounds": 2, "too_few_seeders": 1}
    assert "3 releases found" in result.reason


def test_the_rejection_names_the_nearest_miss() -> None:
    result = rejected(release("Brandon Sanderson - The Final Empire"), release("Dune Messiah"))
    assert result.details["closest_title"] == "Brandon Sanderson - The Final Empire"
    assert 0 < result.details["closest_title_score"] < RULES.title_threshold


def test_nothing_found_is_no_release() -> None:
    result = rejected()
    assert result.reason_code == "NO_RELEASE"
    assert "The Well of Ascension" in result.reason


def test_formats_are_read_from_the_title() -> None:
    assert audio_format("Book [M4B] 64kbps") == "m4b"
    assert audio_format("Book (MP3, 320)") == "mp3"
    assert audio_format("Book") is None
