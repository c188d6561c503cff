"""Choosing one release for a wanted book. Pure: no IO.

The rule, in order:
1. Drop releases that are not this book. Release names wrap the title in other parts
   ("Author - Series 02 - Title (Unabridged) [m4b]"), so the name is split at separators
   (" - ", ":", brackets, commas, …) and every run of adjacent parts is compared with the
   wanted title. Both are normalised (NFKD, accents stripped, lowercase, "&" as "and",
   punctuation as spaces, articles dropped), and the words that describe rather than name
   the book are removed from the run (the author's and series' names, numbers, format and
   edition words). The best run must score at least `title_threshold` with rapidfuzz's
   `token_sort_ratio`: word order does not matter but extra words do, so "Dune Messiah"
   and "Children of Dune" are not "Dune" (a containment measure such as
   `token_set_ratio` takes both). A run that carries a volume number other than the
   wanted one ("The Hunger Games 2") does not count. When the indexer gives a
   `booktitle` attribute, that is scored instead of the release name.
   When the indexer gives an `author` attribute and the book's author is known, they
   must match (`token_set_ratio` >= `author_threshold`, so co-authors are fine). Without
   the attribute the author is not checked: release names often leave it out.
2. Drop releases outside the size bounds, or with fewer than `min_seeders` seeders.
3. Rank the rest by: audio format (the order of `format_preference`, m4b before mp3 by
   default; a format the name does not mention comes after every preferred one), then
   freeleech first (it costs no ratio on a private tracker), then the most seeders (the
   download most likely to finish), then the closest title, then the smaller size (the
   leaner encode of the same book, and the quicker download).
4. Take the first. If none is left, the rejection counts why each release was dropped
   (`NO_MATCHING_RELEASE`); with no release at all it is `NO_RELEASE`.

Known limit: when the title is also the series' name and the name carries no volume
number ("The Hunger Games - Catching Fire"), the series part still matches; an indexer
that sends `booktitle` avoids it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from services.downloader.torznab import Release
from shared.text import match_text

FORMATS = ("m4b", "mp3", "m4a", "flac", "opus", "ogg", "aac", "wma")
ARTICLES = frozenset({"the", "a", "an"})
SCENE_TAGS = frozenset(
    {"web", "webrip", "webdl", "dl", "cd", "cdrip", "rip", "retail", "proper", "repack",
     "internal", "multi", "audible", "itunes", "aax", "ogg", "en", "eng", "english", "de",
     "ger", "german", "fr", "fre", "french", "nl", "dutch", "es", "spa", "spanish", "ita",
     "italian", "mono", "stereo"}
)  # fmt: skip
"""What scene and tracker names add after the title: source, language, release flags
(with digits, "2CD", "192kbps", "2021", "64k", are descriptive anyway)."""
DESCRIPTIVE = frozenset(
    {*FORMATS, *SCENE_TAGS, "unabridged", "abridged", "audiobook", "audiobooks", "audio",
     "book", "books", "vol", "volume", "part", "series", "novel", "by", "read", "narrated",
     "edition", "ed", "rev", "revised", "expanded", "updated", "anniversary", "deluxe",
     "illustrated", "annotated", "kbps", "cbr", "vbr", "chapterized", "chaptered"}
)  # fmt: skip
SEPARATORS = re.compile(r"\s[-\u2013\u2014~]\s|[:|/\\()\[\]{}<>,;]|_-_")
SCENE_SEPARATOR = re.compile(r"-")
SPACED_DASH = re.compile(r"\s[-\u2013\u2014~]\s")
"""In a scene name (no spaces: `Andy_Weir-Project_Hail_Mary-AUDIOBOOK-WEB-EN-2021-FiH`)
a bare hyphen separates the fields, and the last field is the release group."""


@dataclass(frozen=True)
class Wanted:
    """The book a release must be."""

    title: str
    author: str | None = None
    series: str | None = None
    series_number: str | None = None
    asin: str | None = None


@dataclass(frozen=True)
class SelectionRules:
    """What makes a release acceptable, and which is best."""

    format_preference: tuple[str, ...] = ("m4b", "mp3")
    min_size_bytes: int = 1024 * 1024
    max_size_bytes: int = 20 * 1024**3
    min_seeders: int = 1
    title_threshold: float = 90.0
    author_threshold: float = 85.0


@dataclass(frozen=True)
class Choice:
    """The release chosen, and how many were considered."""

    release: Release
    considered: int


@dataclass(frozen=True)
class Rejection:
    """No release was acceptable: a code for the failure record, and why."""

    reason_code: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


def audio_format(title: str) -> str | None:
    """The audio format a release title names, if any."""
    words = set(match_text(title).split())
    return next((f for f in FORMATS if f in words), None)


def title_score(wanted: Wanted, offered: str, offered_author: str | None = None) -> float:
    """How well the best part of a release title names the wanted book (0 to 100)."""
    target = _content_words(match_text(wanted.title).split())
    if not target:  # a title of punctuation alone: nothing in a name can be shown to match
        return 0.0
    context = _context_words(wanted, offered_author) - set(target)
    volumes = {int(w) for w in match_text(wanted.series_number or "").split() if w.isdigit()}
    return max((_run_score(run, target, context, volumes) for run in _runs(offered)), default=0.0)


def _runs(text: str) -> Iterator[str]:
    parts = [p for p in SEPARATORS.split(text) if p.strip()]
    if " " not in text.strip() or not SPACED_DASH.search(text):
        # A scene name (words joined by "_" or ".", fields by "-"), or a name whose parts
        # are joined by bare hyphens ("Andy Weir-Project Hail Mary-FiH"): split there too
        # (runs rejoin neighbours, so "Spider-Man" is still found whole).
        parts = [field for p in parts for field in SCENE_SEPARATOR.split(p) if field.strip()]
    for start in range(len(parts)):
        for end in range(start + 1, len(parts) + 1):
            yield " ".join(parts[start:end])


def _run_score(run: str, target: list[str], context: set[str], volumes: set[int]) -> float:
    words = _content_words(match_text(run).split())
    numbers = {int(w) for w in words if w.isdigit() and len(w) <= 2 and w not in target}
    if volumes and not numbers <= volumes:
        return 0.0  # "The Hunger Games 2" names another volume, not the book "The Hunger Games"
    kept = [w for w in words if w in target or not _is_descriptive(w, context)]
    return float(fuzz.token_sort_ratio(" ".join(target), " ".join(kept)))


def _content_words(words: list[str]) -> list[str]:
    kept = [w for w in words if w not in ARTICLES]
    return kept or words  # a title of articles alone keeps them


def _context_words(wanted: Wanted, offered_author: str | None) -> set[str]:
    named = " ".join(filter(None, (wanted.author, wanted.series, offered_author)))
    return set(match_text(named).split()) | DESCRIPTIVE


def _is_descriptive(word: str, context: set[str]) -> bool:
    return word in context or any(c.isdigit() for c in word)


def _best_title_score(release: Release, wanted: Wanted) -> float:
    # The indexer's own `booktitle` is structured data: trusted over the release name.
    return title_score(wanted, release.booktitle or release.title, release.author)


def _why_dropped(release: Release, wanted: Wanted, rules: SelectionRules) -> str | None:
    if _best_title_score(release, wanted) < rules.title_threshold:
        return "title_mismatch"
    if wanted.author and release.author:
        seen = fuzz.token_set_ratio(match_text(wanted.author), match_text(release.author))
        if seen < rules.author_threshold:
            return "author_mismatch"
    if release.size_bytes is not None and not (
        rules.min_size_bytes <= release.size_bytes <= rules.max_size_bytes
    ):
        return "size_out_of_bounds"
    if release.seeders < rules.min_seeders:
        return "too_few_seeders"
    return None


def _rank(release: Release, wanted: Wanted, rules: SelectionRules) -> tuple[Any, ...]:
    found = audio_format(release.title)
    preference = rules.format_preference
    format_rank = preference.index(found) if found in preference else len(preference)
    return (
        format_rank,
        release.download_volume_factor != 0,  # freeleech first
        -release.seeders,
        -_best_title_score(release, wanted),
        release.size_bytes if release.size_bytes is not None else 0,
    )


def choose_release(
    releases: Sequence[Release], wanted: Wanted, rules: SelectionRules
) -> Choice | Rejection:
    """The best acceptable release, or why there is none."""
    if not releases:
        return Rejection("NO_RELEASE", f"no indexer has a release of {wanted.title!r}")
    dropped: Counter[str] = Counter()
    acceptable = []
    for release in releases:
        why = _why_dropped(release, wanted, rules)
        if why is None:
            acceptable.append(release)
        else:
            dropped[why] += 1
    if not acceptable:
        return _rejection(releases, wanted, dropped)
    best = min(acceptable, key=lambda r: _rank(r, wanted, rules))
    return Choice(best, len(releases))


def _rejection(releases: Sequence[Release], wanted: Wanted, dropped: Counter[str]) -> Rejection:
    summary = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in dropped.most_common())
    closest = max(releases, key=lambda r: _best_title_score(r, wanted))
    return Rejection(
        "NO_MATCHING_RELEASE",
        f"{len(releases)} releases found, none acceptable ({summary})",
        {
            "dropped": dict(dropped),
            "found": len(releases),
            # The nearest miss tells a reader whether the threshold or the indexer is wrong.
            "closest_title": closest.title,
            "closest_title_score": round(_best_title_score(closest, wanted), 1),
        },
    )
