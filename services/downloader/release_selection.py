"""Choosing one release for a wanted book. Pure: no IO.

The rule, in order:
1. Drop releases that are not this book: the release title (or its `booktitle`
   attribute) must contain the wanted title — compared normalised (accents, case and
   punctuation ignored) with a token-set similarity of at least `title_threshold` — and,
   when both are known, the author must appear in the release's author attribute or
   title with the same similarity.
2. Drop releases outside the size bounds, or with fewer than `min_seeders` seeders.
3. Rank the rest by: audio format preference (the order of `format_preference`, m4b
   before mp3 by default; releases whose format cannot be told from the title come after
   every preferred format), then freeleech first, then the most seeders, then the
   closest title match, then the smaller size (the leaner encode of the same book).
4. Take the first. If none is left, the rejection says why each release was dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from services.downloader.torznab import Release

FORMATS = ("m4b", "mp3", "m4a", "flac", "opus", "ogg", "aac")


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


def normalise(text: str) -> str:
    """Lowercase, accents stripped, punctuation as spaces, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^\w]+", " ", plain).split())


def audio_format(title: str) -> str | None:
    """The audio format a release title names, if any."""
    words = set(normalise(title).split())
    return next((f for f in FORMATS if f in words), None)


def _similarity(wanted: str, offered: str) -> float:
    return float(fuzz.token_set_ratio(normalise(wanted), normalise(offered)))


def _why_dropped(release: Release, wanted: Wanted, rules: SelectionRules) -> str | None:
    title_seen = max(
        _similarity(wanted.title, release.title),
        _similarity(wanted.title, release.booktitle or ""),
    )
    if title_seen < rules.title_threshold:
        return "title_mismatch"
    if wanted.author and (release.author or wanted.author.lower() in release.title.lower()):
        author_seen = max(
            _similarity(wanted.author, release.author or ""),
            _similarity(wanted.author, release.title),
        )
        if author_seen < rules.author_threshold:
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
    freeleech = release.download_volume_factor == 0
    return (
        format_rank,
        not freeleech,
        -release.seeders,
        -_similarity(wanted.title, release.booktitle or release.title),
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
        summary = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in dropped.most_common())
        return Rejection(
            "NO_MATCHING_RELEASE",
            f"{len(releases)} releases found, none acceptable ({summary})",
            {"dropped": dict(dropped), "found": len(releases)},
        )
    best = min(acceptable, key=lambda r: _rank(r, wanted, rules))
    return Choice(best, len(releases))
