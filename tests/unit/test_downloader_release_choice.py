"""Choosing like a careful person: the book in the wanted language and edition, read by
the series' narrator, never a release the user blocklisted, and a record of why.

Release names below follow the conventions found in public sources:
- Jackett's and Prowlarr's MyAnonamouse definitions build the title as
  `title + " by " + authors + " [" + lang_code + " / " + FILETYPE + "]"`
  (Jackett/Jackett src/Jackett.Common/Indexers/Definitions/MyAnonamouse.cs), so
  "The Well of Ascension by Brandon Sanderson [ENG / M4B]" or "… [GER / MP3]".
- Scene dirnames are `Author-Title-TAGS-LANG-YEAR-GROUP` with words joined by "_" and a
  language field (`-EN-`, `-DE-`) or word (`.GERMAN.`); the 2003 POE audiobook ruleset
  (scenerules.org) asks for an "ABRIDGED" or "UNABRIDGED" tag in the dirname.
- Audiobookshelf reads the narrator from curly braces at the end of a title folder:
  "Vol 1 - 1994 - Wizards First Rule {Sam Tsoutsouvas}" (audiobookshelf.org, Book
  Library Structure).
- The Newznab attribute list (inhies.github.io/Newznab-API/attributes) defines a
  `language` attribute; `narrator` is not standard and read only when an indexer sends it.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pydantic import SecretStr

from services.downloader.release_names import name_language, name_narrators
from services.downloader.release_selection import (
    NOTHING_BLOCKED,
    Blocked,
    Choice,
    Rejection,
    SelectionRules,
    Wanted,
    choose_release,
    explain,
)
from services.downloader.torznab import Release
from shared import events as ev

MB = 1024 * 1024
RULES = SelectionRules(min_size_bytes=10 * MB, max_size_bytes=2000 * MB)
KRAMER = ("Michael Kramer",)
WANTED = Wanted("The Well of Ascension", "Brandon Sanderson", "Mistborn", "2", language="english")
SERIES = Wanted(
    "The Well of Ascension",
    "Brandon Sanderson",
    "Mistborn",
    "2",
    language="english",
    narrators=KRAMER,
)


def release(
    title: str,
    *,
    seeders: int = 5,
    language: str | None = None,
    narrators: tuple[str, ...] = (),
    info_hash: str | None = None,
    guid: str | None = None,
) -> Release:
    return Release(
        "idx",
        title,
        guid or title,
        SecretStr("http://x/dl?apikey=k"),
        500 * MB,
        seeders,
        seeders,
        info_hash=info_hash,
        download_volume_factor=1.0,
        language=language,
        narrators=narrators,
    )


def choice(
    *releases: Release,
    wanted: Wanted = WANTED,
    rules: SelectionRules = RULES,
    blocked: Blocked = NOTHING_BLOCKED,
) -> Choice:
    result = choose_release(list(releases), wanted, rules, blocked=blocked)
    assert isinstance(result, Choice), result
    return result


def rejected(
    *releases: Release, wanted: Wanted = WANTED, blocked: Blocked = NOTHING_BLOCKED
) -> Rejection:
    result = choose_release(list(releases), wanted, RULES, blocked=blocked)
    assert isinstance(result, Rejection), result
    return result


# Language


def test_a_release_whose_language_attribute_is_another_is_dropped() -> None:
    german = release("Brandon Sanderson - The Well of Ascension [mp3]", language="German")
    assert rejected(german).details["dropped"] == {"language_mismatch": 1}


@pytest.mark.parametrize(
    "name",
    [
        "The Well of Ascension by Brandon Sanderson [GER / MP3]",  # Jackett's MyAnonamouse
        "Brandon_Sanderson-The_Well_of_Ascension-AUDIOBOOK-WEB-DE-2008-GRP",  # scene field
        "Brandon.Sanderson.The.Well.of.Ascension.2008.GERMAN.AUDIOBOOK.MP3-GRP",
        "Brandon Sanderson - The Well of Ascension GERMAN [mp3]",
        "Brandon Sanderson - The Well of Ascension (Deutsch) [mp3]",
        "The Well of Ascension by Brandon Sanderson [FRE / M4B]",
    ],
)
def test_a_release_whose_name_tags_another_language_is_dropped(name: str) -> None:
    assert rejected(release(name)).details["dropped"] == {"language_mismatch": 1}


@pytest.mark.parametrize(
    "name",
    [
        "The Well of Ascension by Brandon Sanderson [ENG / M4B]",
        "Brandon_Sanderson-The_Well_of_Ascension-AUDIOBOOK-WEB-EN-2008-GRP",
        "Brandon Sanderson - The Well of Ascension ENGLISH [m4b]",
    ],
)
def test_an_english_release_is_kept_and_its_tag_is_named(name: str) -> None:
    result = choice(release(name))
    assert result.explanation["chosen"]["language"] == "english (name tag)"


@pytest.mark.parametrize(
    "name",
    [
        # "Hörbuch" is German for "audiobook": German trackers put it on English uploads
        # too, and a German edition's German title fails the title match anyway. Alone it
        # claims no language.
        "Brandon Sanderson - The Well of Ascension (Hörbuch) [mp3]",
        "Brandon Sanderson - The Well of Ascension [aac]",  # `language_code("aac")` is "aac"
        "Brandon Sanderson - The Well of Ascension MULTI [m4b]",  # several: no claim
        "The Well of Ascension by Brandon Sanderson [ENG / GER / M4B]",
    ],
)
def test_words_that_are_not_one_language_tag_keep_the_release(name: str) -> None:
    result = choice(release(name))
    assert result.explanation["chosen"]["language"] == "unknown"


def test_a_language_word_in_the_title_is_not_a_tag() -> None:
    wanted = Wanted("The German Girl", "Armando Lucas Correa", language="english")
    for name in ("Armando Lucas Correa - The German Girl [m4b]", "THE GERMAN GIRL M4B"):
        assert choice(release(name), wanted=wanted).release.title == name


def test_the_language_attribute_is_trusted_over_the_name() -> None:
    result = choice(release("The Well of Ascension [GER / MP3]", language="en"))
    assert result.explanation["chosen"]["language"] == "english (attribute)"


def test_without_a_wanted_language_no_release_is_dropped_for_its_language() -> None:
    anything = Wanted("The Well of Ascension", "Brandon Sanderson")
    assert choice(release("The Well of Ascension [GER / MP3]"), wanted=anything)


# Edition


def test_an_abridged_release_is_dropped_and_the_unabridged_one_taken() -> None:
    assert rejected(release("Brandon Sanderson - The Well of Ascension (Abridged) [mp3]"))
    result = choice(
        release("Brandon Sanderson - The Well of Ascension (Abridged) [m4b]", seeders=90),
        release("Brandon_Sanderson-The_Well_of_Ascension-ABRIDGED-2CD-2008-GRP", seeders=90),
        release("Brandon Sanderson - The Well of Ascension (Unabridged) [mp3]", seeders=2),
    )
    assert result.release.title.endswith("(Unabridged) [mp3]")
    assert result.explanation["dropped"] == {"abridged": 2}
    assert result.explanation["chosen"]["edition"] == "unabridged"


def test_an_abridged_release_is_kept_when_the_abridged_edition_is_wanted() -> None:
    abridged = release("Brandon Sanderson - The Well of Ascension (Abridged) [mp3]")
    wanted = Wanted("The Well of Ascension", "Brandon Sanderson", abridged=True)
    assert choice(abridged, wanted=wanted).explanation["chosen"]["edition"] == "abridged"
    allowing = SelectionRules(min_size_bytes=0, allow_abridged=True)
    assert choice(abridged, rules=allowing)


def test_where_abridged_releases_are_allowed_the_unabridged_still_comes_first() -> None:
    allowing = SelectionRules(min_size_bytes=0, allow_abridged=True)
    result = choice(
        release("Brandon Sanderson - The Well of Ascension (Abridged) [m4b]", seeders=90),
        release("Brandon Sanderson - The Well of Ascension [m4b]", seeders=40),
        release("Brandon Sanderson - The Well of Ascension (Unabridged) [m4b]", seeders=2),
        rules=allowing,
    )
    assert [r.seeders for r in result.candidates] == [2, 40, 90]  # unabridged, unsaid, abridged
    assert result.explanation["why"].startswith("decided by the edition")


# Narrator


def test_the_series_narrator_beats_more_seeders_and_a_better_format() -> None:
    result = choice(
        release("Brandon Sanderson - Mistborn 02 - The Well of Ascension [m4b]", seeders=90),
        release(
            "Brandon Sanderson - Mistborn 02 - The Well of Ascension (Unabridged) [mp3] "
            "{Michael Kramer}",
            seeders=2,
        ),
        wanted=SERIES,
    )
    assert result.release.title.endswith("{Michael Kramer}")
    assert result.explanation["chosen"]["narrator"] == "same as the series: Michael Kramer"
    assert result.explanation["runner_up"]["narrator"] == "unknown"
    assert result.explanation["why"] == (
        "decided by the narrator: same as the series: Michael Kramer (runner-up: unknown)"
    )


def test_a_narrator_written_surname_first_is_the_same_narrator() -> None:
    result = choice(
        release("The Well of Ascension [m4b]", seeders=50),
        release("The Well of Ascension [m4b]", seeders=3, narrators=("Kramer, Michael",)),
        wanted=SERIES,
    )
    assert result.release.narrators == ("Kramer, Michael",)


def test_an_unknown_narrator_beats_a_different_one_which_is_still_better_than_nothing() -> None:
    other = release("The Well of Ascension read by Tim Gerard Reynolds [m4b]", seeders=90)
    unknown = release("The Well of Ascension [m4b]", seeders=3)
    result = choice(other, unknown, wanted=SERIES)
    assert result.release is unknown
    assert result.explanation["runner_up"]["narrator"] == "different: Tim Gerard Reynolds"
    assert choice(other, wanted=SERIES).release is other  # another voice, not no book


def test_without_wanted_narrators_the_narrator_decides_nothing() -> None:
    result = choice(
        release("The Well of Ascension {Michael Kramer} [m4b]", seeders=3),
        release("The Well of Ascension read by Tim Gerard Reynolds [m4b]", seeders=90),
    )
    assert result.release.seeders == 90
    assert result.explanation["why"] == "decided by the seeders: 90 (runner-up: 3)"


@pytest.mark.parametrize(
    ("name", "narrators"),
    [
        ("Brandon Sanderson - Mistborn 02 - The Well of Ascension (Unabridged) [m4b] "
         "{Michael Kramer}", ("Michael Kramer",)),
        ("Vol 1 - 1994 - Wizards First Rule {Sam Tsoutsouvas}", ("Sam Tsoutsouvas",)),
        ("The Martian read by R. C. Bray (Unabridged) [m4b]", ("R. C. Bray",)),
        ("The Way of Kings Narrated by Michael Kramer & Kate Reading [m4b]",
         ("Michael Kramer", "Kate Reading")),
        ("The Way of Kings (Narrator: Kramer, Michael) [m4b]", ("Kramer, Michael",)),
        ("Brandon Sanderson - The Well of Ascension - Michael Kramer [narr] [m4b]",
         ("Michael Kramer",)),
        ("Brandon_Sanderson-The_Well_of_Ascension-Read_By_Michael_Kramer-2008-GRP",
         ("Michael Kramer",)),
        ("Stephen.King.The.Institute.Read.By.Steven.Weber.MP3-GRP", ("Steven Weber",)),
        ("The Well of Ascension by Brandon Sanderson [ENG / M4B]", ()),  # the author, not
        ("Title {m4b} {2008}", ()),
    ],
)  # fmt: skip
def test_narrators_are_read_from_names_conservatively(
    name: str, narrators: tuple[str, ...]
) -> None:
    assert name_narrators(name) == narrators


# Blocklist


def test_a_release_blocked_by_its_hash_gives_way_to_the_next_best() -> None:
    best = release("The Well of Ascension [m4b]", seeders=90, info_hash="ab" * 20)
    next_best = release("The Well of Ascension [m4b] v2", seeders=10)
    result = choice(best, next_best, blocked=Blocked(info_hashes=frozenset({"AB" * 20})))
    assert result.release is next_best
    assert result.candidates == (next_best,)
    assert result.explanation["dropped"] == {"blocklisted": 1}


def test_a_release_blocked_by_its_guid_gives_way_to_the_next_best() -> None:
    best = release("The Well of Ascension [m4b]", seeders=90, guid="https://t/1")
    next_best = release("The Well of Ascension [mp3]", seeders=10, guid="https://t/2")
    blocked = Blocked(guids=frozenset({"https://t/1"}))
    assert choice(best, next_best, blocked=blocked).release is next_best


def test_when_every_release_is_blocked_none_matches() -> None:
    releases = [release("The Well of Ascension [m4b]", guid=f"g{i}") for i in range(3)]
    result = rejected(*releases, blocked=Blocked(guids=frozenset({"g0", "g1", "g2"})))
    assert result.reason_code == "NO_MATCHING_RELEASE"
    assert result.details["dropped"] == {"blocklisted": 3}


# Candidates and explanation


def test_the_candidates_are_every_acceptable_release_in_rank_order() -> None:
    mp3 = release("The Well of Ascension [mp3]", seeders=99)
    few = release("The Well of Ascension [m4b]", seeders=2)
    many = release("The Well of Ascension (Unabridged) [m4b]", seeders=40)
    foreign = release("The Well of Ascension [GER / M4B]", seeders=99)
    result = choice(mp3, few, many, foreign)
    assert result.candidates == (many, few, mp3)


def test_the_explanation_names_the_chosen_the_runner_up_and_what_decided() -> None:
    result = choice(
        release("The Well of Ascension by Brandon Sanderson [ENG / MP3]", seeders=40),
        release("The Well of Ascension by Brandon Sanderson [ENG / M4B]", seeders=4),
        release("The Well of Ascension (Abridged) [m4b]"),
    )
    explanation = json.loads(json.dumps(result.explanation))  # JSON-able as it is
    assert explanation["considered"] == 3
    assert explanation["dropped"] == {"abridged": 1}
    assert explanation["chosen"] == {
        "title": "The Well of Ascension by Brandon Sanderson [ENG / M4B]",
        "indexer": "idx",
        "guid": "The Well of Ascension by Brandon Sanderson [ENG / M4B]",
        "title_score": 100.0,
        "author": "not given",
        "language": "english (name tag)",
        "edition": "not said",
        "narrator": "unknown",
        "format": "m4b",
        "freeleech": False,
        "seeders": 4,
        "size_bytes": 500 * MB,
    }
    assert explanation["runner_up"]["format"] == "mp3"
    assert explanation["why"] == "decided by the format: m4b (runner-up: mp3)"


def test_freeleech_deciding_is_said_in_words() -> None:
    paid = release("The Well of Ascension [m4b]", seeders=40)
    free = replace(release("The Well of Ascension [m4b] FL", seeders=3), download_volume_factor=0)
    assert choice(paid, free).explanation["why"] == "decided by freeleech: yes (runner-up: no)"


def test_a_lone_release_has_no_runner_up() -> None:
    explanation = choice(release("The Well of Ascension [m4b]")).explanation
    assert (explanation["runner_up"], explanation["why"]) == (None, "the only acceptable release")


def test_any_release_can_be_explained() -> None:
    verdicts = explain(release("The Well of Ascension [GER / MP3]"), SERIES, RULES)
    assert (verdicts["language"], verdicts["narrator"]) == ("german (name tag)", "unknown")


def test_the_explanation_stays_small_with_500_long_named_releases() -> None:
    long_title = "Brandon Sanderson - The Well of Ascension [m4b] " + "x" * 2000
    releases = [
        release(long_title + str(i), seeders=i + 1, guid="g" * 2000 + str(i)) for i in range(500)
    ]
    result = choice(*releases)
    assert len(result.candidates) == 500
    assert len(json.dumps(result.explanation)) < 2048


# The wanted book from an event


def test_the_wanted_book_carries_its_expectations() -> None:
    expected = ev.Expectations(
        runtime_minutes=1500, language="english", abridged=False, narrators=["Michael Kramer"]
    )
    book = ev.BookRef(title="The Well of Ascension", author="Brandon Sanderson", expected=expected)
    wanted = Wanted.of(book)
    assert (wanted.title, wanted.author) == ("The Well of Ascension", "Brandon Sanderson")
    assert (wanted.language, wanted.abridged, wanted.narrators) == ("english", False, KRAMER)
    bare = Wanted.of(ev.BookRef(title="Dune", series="Dune", series_number="1"))
    assert (bare.series_number, bare.language, bare.narrators) == ("1", None, ())


def test_scene_and_tracker_language_tags_are_read_as_one_code() -> None:
    assert name_language("Andy_Weir-Project_Hail_Mary-AUDIOBOOK-WEB-EN-2021-FiH") == "en"
    assert name_language("Sebastian_Fitzek-Das_Paket-DE-2016-GRP") == "de"
    assert name_language("Les Misérables de Victor Hugo [m4b]") is None  # "de" is a word
    assert name_language("Project Hail Mary by Andy Weir [ENG / M4B]") == "en"
