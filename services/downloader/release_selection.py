"""Choosing one release for a wanted book, and saying why. Pure: no IO.

The rule, in order:
1. Drop releases that are not this book. Release names wrap the title in other parts
   ("Author - Series 02 - Title (Unabridged) [m4b]"), so the name is split at separators
   (" - ", ":", brackets, commas, …) and every run of adjacent parts is compared with the
   wanted title. Both are normalised (NFKD, accents stripped, lowercase, "&" as "and",
   punctuation as spaces, articles dropped), and the words that describe rather than name
   the book are removed from the run (the author's, series' and narrators' names, numbers,
   format and edition words). The best run must score at least `title_threshold` with
   rapidfuzz's `token_sort_ratio`: word order does not matter but extra words do, so
   "Dune Messiah" and "Children of Dune" are not "Dune" (a containment measure such as
   `token_set_ratio` takes both). A run that carries a volume number other than the
   wanted one ("The Hunger Games 2") does not count. When the indexer gives a
   `booktitle` attribute, that is scored instead of the release name.
   When the indexer gives an `author` attribute and the book's author is known, they
   must match (`token_set_ratio` >= `author_threshold`, so co-authors are fine). Without
   the attribute the author is not checked: release names often leave it out.
   Before all this, a release the user blocklisted (its info-hash or its guid) is dropped.
2. Drop a release in another language: when the wanted language and the release's are
   both known and differ. The release's language is its `language` attribute, else the
   language tag of its name (`release_names`: curated tags in a tag's place only).
3. Drop an abridged release (its name says "abridged", not "unabridged") unless the
   abridged edition is what is wanted, or the rules allow abridged editions.
4. Drop releases outside the size bounds, or with fewer than `min_seeders` seeders.
5. Rank the rest by: the narrator first (when the wanted book names narrators, those of
   the owned books of its series: a release read by one of them, then a release that
   names none, then one read by someone else; names compared with `token_sort_ratio` >=
   `narrator_threshold` on normalised names, "Kramer, Michael" as "Michael Kramer"; a
   series that changes voice is a complaint, but another voice is better than no book),
   then the edition (where abridged releases are allowed at all: the one wanted — the
   unabridged unless the abridged is asked for — then one whose name does not say, then
   the other), then audio format (the order of `format_preference`, m4b before mp3 by default; a
   format the name does not mention comes after every preferred one), then freeleech
   first (it costs no ratio on a private tracker), then the most seeders (the download
   most likely to finish), then the closest title, then the smaller size (the leaner
   encode of the same book, and the quicker download). Ties keep the indexers' order.
6. Take the first; the others that were acceptable follow it in `Choice.candidates`, for
   a caller whose fetched torrent turns out blocked. `Choice.explanation` says what each
   criterion found of the chosen release and the runner-up, and which one decided. If
   none is left, the rejection counts why each release was dropped
   (`NO_MATCHING_RELEASE`); with no release at all it is `NO_RELEASE`.

Known limit: when the title is also the series' name and the name carries no volume
number ("The Hunger Games - Catching Fire"), the series part still matches; an indexer
that sends `booktitle` avoids it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz import fuzz

from services.downloader.release_names import (
    DESCRIPTIVE,
    FORMATS,
    name_language,
    name_narrators,
    says_abridged,
)
from services.downloader.torznab import Release
from shared import events as ev
from shared.languages import language_code, language_name
from shared.text import match_text

ARTICLES = frozenset({"the", "a", "an"})

SEPARATORS = re.compile(r"\s[-\u2013\u2014~]\s|[:|/\\()\[\]{}<>,;]|_-_")
SCENE_SEPARATOR = re.compile(r"-")
SPACED_DASH = re.compile(r"\s[-\u2013\u2014~]\s")
"""In a scene name (no spaces: `Andy_Weir-Project_Hail_Mary-AUDIOBOOK-WEB-EN-2021-FiH`)
a bare hyphen separates the fields, and the last field is the release group."""


@dataclass(frozen=True)
class Wanted:
    """The book a release must be, and what it is expected to be like."""

    title: str
    author: str | None = None
    series: str | None = None
    series_number: str | None = None
    asin: str | None = None
    language: str | None = None
    """As the catalogue names it ("english"); None when unknown."""
    abridged: bool | None = None
    """True only when the abridged edition is what is wanted."""
    narrators: tuple[str, ...] = ()
    """The narrators to prefer (the owned books of the series')."""

    @classmethod
    def of(cls, book: ev.BookRef) -> Wanted:
        """The book an event names, with its expectations when it carries them."""
        expected = book.expected or ev.Expectations()
        return cls(
            book.title,
            book.author,
            book.series,
            book.series_number,
            book.asin,
            language=expected.language,
            abridged=expected.abridged,
            narrators=tuple(expected.narrators),
        )


@dataclass(frozen=True)
class SelectionRules:
    """What makes a release acceptable, and which is best."""

    format_preference: tuple[str, ...] = ("m4b", "mp3")
    min_size_bytes: int = 1024 * 1024
    max_size_bytes: int = 20 * 1024**3
    min_seeders: int = 1
    title_threshold: float = 90.0
    author_threshold: float = 85.0
    narrator_threshold: float = 85.0
    allow_abridged: bool = False


@dataclass(frozen=True)
class Blocked:
    """Releases never to take again: by info-hash (in any case) or by the indexer's guid."""

    info_hashes: frozenset[str] = frozenset()
    guids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "info_hashes", frozenset(h.lower() for h in self.info_hashes))

    def holds(self, release: Release) -> bool:
        """Whether `release` is blocked."""
        hashed = release.info_hash is not None and release.info_hash.lower() in self.info_hashes
        return hashed or release.guid in self.guids


NOTHING_BLOCKED = Blocked()


@dataclass(frozen=True)
class Choice:
    """The release chosen, how many were considered, every acceptable release in rank
    order (the chosen first), and why (JSON-able, small: see `explain`)."""

    release: Release
    considered: int
    candidates: tuple[Release, ...] = ()
    explanation: dict[str, Any] = field(default_factory=dict)
    refused: tuple[tuple[Release, str], ...] = ()
    """Each release left out, with the rule that left it out (`dropped` counts them)."""


@dataclass(frozen=True)
class Rejection:
    """No release was acceptable: a code for the failure record, and why."""

    reason_code: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    refused: tuple[tuple[Release, str], ...] = ()
    """Each release found, with the rule that left it out."""


def audio_format(title: str, formats: Sequence[str] = ()) -> str | None:
    """The audio format a release lists (its indexer's `formats`, first known one), else
    the one its title names, if any."""
    listed = next((f for f in (f.lower() for f in formats) if f in FORMATS), None)
    if listed is not None:
        return listed
    words = set(match_text(title).split())
    return next((f for f in FORMATS if f in words), None)


def title_score(
    wanted: Wanted,
    offered: str,
    offered_author: str | None = None,
    offered_narrators: Sequence[str] = (),
) -> float:
    """How well the best part of a release title names the wanted book (0 to 100)."""
    target = _content_words(match_text(wanted.title).split())
    if not target:  # a title of punctuation alone: nothing in a name can be shown to match
        return 0.0
    credited = (offered_author, *wanted.narrators, *offered_narrators)
    context = _context_words(wanted, credited) - set(target)
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


def _context_words(wanted: Wanted, credited: Sequence[str | None]) -> set[str]:
    # "The Well of Ascension read by Michael Kramer": the people credited describe the book.
    named = " ".join(filter(None, (wanted.author, wanted.series, *credited)))
    return set(match_text(named).split()) | DESCRIPTIVE


def _is_descriptive(word: str, context: set[str]) -> bool:
    return word in context or any(c.isdigit() for c in word)


@dataclass(frozen=True)
class _Seen:
    """One release as its attributes and its name describe it."""

    release: Release
    title_score: float
    language: str | None
    language_source: str
    abridged: bool | None
    narrators: tuple[str, ...]
    narrator_match: str | None
    """The release's narrator who is one of the wanted ones, if any."""


def _see(release: Release, wanted: Wanted, rules: SelectionRules) -> _Seen:
    language, source = language_code(release.language), "attribute"
    if language is None:
        language, source = name_language(release.title), "name tag"
    narrators = _narrators(release)
    return _Seen(
        release,
        _best_title_score(release, wanted, narrators),
        language,
        source,
        says_abridged(release.title),
        narrators,
        next((n for n in narrators if _is_wanted_narrator(n, wanted, rules)), None),
    )


def _is_wanted_narrator(name: str, wanted: Wanted, rules: SelectionRules) -> bool:
    return any(
        fuzz.token_sort_ratio(_name_key(name), _name_key(w)) >= rules.narrator_threshold
        for w in wanted.narrators
    )


def _name_key(name: str) -> str:
    last, comma, first = name.partition(",")
    if comma and first.strip() and "," not in first:  # "Kramer, Michael"
        name = f"{first} {last}"
    return match_text(name)


def _narrators(release: Release) -> tuple[str, ...]:
    return release.narrators or name_narrators(release.title)


def _best_title_score(
    release: Release, wanted: Wanted, narrators: Sequence[str] | None = None
) -> float:
    # The indexer's own `booktitle` is structured data: trusted over the release name.
    credited = _narrators(release) if narrators is None else narrators
    return title_score(wanted, release.booktitle or release.title, release.author, credited)


def _why_dropped(
    seen: _Seen, wanted: Wanted, rules: SelectionRules, blocked: Blocked
) -> str | None:
    release = seen.release
    if blocked.holds(release):
        return "blocklisted"
    if seen.title_score < rules.title_threshold:
        return "title_mismatch"
    if _author_matches(release, wanted, rules) is False:
        return "author_mismatch"
    wanted_language = language_code(wanted.language)
    if wanted_language and seen.language and wanted_language != seen.language:
        return "language_mismatch"
    if seen.abridged and not (wanted.abridged or rules.allow_abridged):
        return "abridged"
    if release.size_bytes is not None and not (
        rules.min_size_bytes <= release.size_bytes <= rules.max_size_bytes
    ):
        return "size_out_of_bounds"
    if release.seeders < rules.min_seeders:
        return "too_few_seeders"
    return None


def _author_matches(release: Release, wanted: Wanted, rules: SelectionRules) -> bool | None:
    if not (wanted.author and release.author):
        return None
    seen = fuzz.token_set_ratio(match_text(wanted.author), match_text(release.author))
    return seen >= rules.author_threshold


RANK_KEYS = ("narrator", "edition", "format", "freeleech", "seeders", "title", "size")
"""What `_rank` compares, in its order."""
VERDICT_OF = {"title": "title_score", "size": "size_bytes"}
"""The explanation's entry for a rank key, where it is named otherwise."""
DECIDED_BY = {"title": "the title score", "size": "the size in bytes", "freeleech": "freeleech"}
"""How `why` names a rank key, where not "the <key>"."""


def _rank(seen: _Seen, wanted: Wanted, rules: SelectionRules) -> tuple[Any, ...]:
    release = seen.release
    found = audio_format(release.title, release.formats)
    preference = rules.format_preference
    format_rank = preference.index(found) if found in preference else len(preference)
    return (
        _narrator_standing(seen, wanted),
        _edition_standing(seen, wanted),
        format_rank,
        release.download_volume_factor != 0,  # freeleech first
        -release.seeders,
        -seen.title_score,
        release.size_bytes if release.size_bytes is not None else 0,
    )


def _edition_standing(seen: _Seen, wanted: Wanted) -> int:
    if seen.abridged is None:
        return 1  # the name does not say
    return 0 if seen.abridged == (wanted.abridged is True) else 2


def _narrator_standing(seen: _Seen, wanted: Wanted) -> int:
    if seen.narrator_match is not None:
        return 0  # read by the series' narrator
    return 2 if seen.narrators and wanted.narrators else 1  # unknown before another voice


def choose_release(
    releases: Sequence[Release],
    wanted: Wanted,
    rules: SelectionRules,
    blocked: Blocked = NOTHING_BLOCKED,
) -> Choice | Rejection:
    """The best acceptable release with the others in rank order, or why there is none."""
    if not releases:
        return Rejection("NO_RELEASE", f"no indexer has a release of {wanted.title!r}")
    dropped: Counter[str] = Counter()
    refused: list[tuple[Release, str]] = []
    acceptable = []
    for release in releases:
        seen = _see(release, wanted, rules)
        why = _why_dropped(seen, wanted, rules, blocked)
        if why is None:
            acceptable.append(seen)
        else:
            dropped[why] += 1
            refused.append((release, why))
    if not acceptable:
        return replace(_rejection(releases, wanted, dropped), refused=tuple(refused))
    ranked = sorted(acceptable, key=lambda s: _rank(s, wanted, rules))  # stable: ties keep order
    return Choice(
        ranked[0].release,
        len(releases),
        tuple(s.release for s in ranked),
        _explanation(ranked, dropped, len(releases), wanted, rules),
        tuple(refused),
    )


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


TEXT_LIMIT = 200
"""Characters kept of a title, a guid or a list of names in an explanation."""


def explain(release: Release, wanted: Wanted, rules: SelectionRules) -> dict[str, Any]:
    """What each criterion finds of `release` for `wanted` (JSON-able, about 500 bytes)."""
    return _verdicts(_see(release, wanted, rules), wanted, rules)


def _verdicts(seen: _Seen, wanted: Wanted, rules: SelectionRules) -> dict[str, Any]:
    release = seen.release
    return {
        "title": _short(release.title),
        "indexer": release.indexer,
        "guid": _short(release.guid),
        "title_score": round(seen.title_score, 1),
        "author": _author_verdict(release, wanted, rules),
        "language": _language_verdict(seen),
        "edition": {True: "abridged", False: "unabridged", None: "not said"}[seen.abridged],
        "narrator": _narrator_verdict(seen, wanted),
        "format": audio_format(release.title, release.formats) or "not said",
        "freeleech": release.download_volume_factor == 0,
        "seeders": release.seeders,
        "size_bytes": release.size_bytes,
    }


def _short(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def _author_verdict(release: Release, wanted: Wanted, rules: SelectionRules) -> str:
    if not release.author:
        return "not given"
    if not wanted.author:
        return f"not compared: {_short(release.author)}"
    matches = _author_matches(release, wanted, rules)
    return "matches" if matches else f"differs: {_short(release.author)}"


def _language_verdict(seen: _Seen) -> str:
    name = language_name(seen.language)
    return "unknown" if name is None else f"{name} ({seen.language_source})"


def _narrator_verdict(seen: _Seen, wanted: Wanted) -> str:
    if seen.narrator_match is not None:
        return f"same as the series: {_short(seen.narrator_match)}"
    if not seen.narrators:
        return "unknown"
    names = _short(", ".join(seen.narrators))
    return f"different: {names}" if wanted.narrators else f"{names} (no preference)"


def _explanation(
    ranked: list[_Seen],
    dropped: Counter[str],
    considered: int,
    wanted: Wanted,
    rules: SelectionRules,
) -> dict[str, Any]:
    chosen, runner_up = ranked[0], (ranked[1] if len(ranked) > 1 else None)
    return {
        "considered": considered,
        "acceptable": len(ranked),
        "dropped": dict(dropped),
        "chosen": _verdicts(chosen, wanted, rules),
        "runner_up": None if runner_up is None else _verdicts(runner_up, wanted, rules),
        "why": _why(chosen, runner_up, wanted, rules),
    }


def _why(chosen: _Seen, runner_up: _Seen | None, wanted: Wanted, rules: SelectionRules) -> str:
    if runner_up is None:
        return "the only acceptable release"
    pairs = zip(
        RANK_KEYS, _rank(chosen, wanted, rules), _rank(runner_up, wanted, rules), strict=True
    )
    key = next((k for k, mine, theirs in pairs if mine != theirs), None)
    if key is None:
        return "as good as the runner-up on every criterion: the first found was taken"
    verdict = VERDICT_OF.get(key, key)
    mine = _said(_verdicts(chosen, wanted, rules)[verdict])
    theirs = _said(_verdicts(runner_up, wanted, rules)[verdict])
    return f"decided by {DECIDED_BY.get(key, f'the {key}')}: {mine} (runner-up: {theirs})"


def _said(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
