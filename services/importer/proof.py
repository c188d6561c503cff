"""Proof before import: does the downloaded audio hold the wanted book? A pure verdict
over what was heard (`listening.py` reads the files); None when nothing disproves it.

The refusals, checked in this order (the first found is the verdict):

- UNDECODABLE: a file is empty, unreadable as audio, or does not decode.
- WRONG_BOOK: the tags clearly name another book or another author.
- LANGUAGE_MISMATCH: a language tag names another language than the catalogue's.
- RUNTIME_MISMATCH: the total running time is outside the tolerance of the catalogue's.

Conservative by rule: what is not known is not checked (a missing tag, a book without
expectations), and tags refuse only when no file agrees with the wanted book. Real rips
put the book in `album` and chapter names in `title` ("Chapter 01", "01 - Prologue"), and
`album` often carries extras ("Mistborn 2: The Well of Ascension (Unabridged)"): the
title is compared with the album, with the title tag only when there is no album and
the title is no chapter name; the author with the album artist (else the artist).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from shared import events as ev
from shared.languages import language_name, same_language
from shared.text import match_text

PROOF_CODES = frozenset({"UNDECODABLE", "WRONG_BOOK", "LANGUAGE_MISMATCH", "RUNTIME_MISMATCH"})


@dataclass(frozen=True)
class Tags:
    """What one file's tags say (None: no such tag)."""

    album: str | None = None
    title: str | None = None
    artist: str | None = None
    album_artist: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Heard:
    """One audio file as read: its running time and tags, or why it is no usable audio."""

    name: str
    seconds: float = 0.0
    tags: Tags = field(default_factory=Tags)
    fault: str | None = None
    """Why the file is no usable audio ("is empty (0 bytes)"); None: it is."""


@dataclass(frozen=True)
class Tolerance:
    """How far the running time may stray from the catalogue's: the larger of a share of
    it and a floor (short books vary by minutes of credits, long ones by percent)."""

    percent: float = 15.0
    minutes: float = 2.0

    def seconds(self, expected_s: float) -> float:
        """The allowed difference, in seconds, from `expected_s`."""
        return max(self.percent / 100 * expected_s, self.minutes * 60)


@dataclass(frozen=True)
class Refusal:
    """Why the download is not the wanted book: one of `PROOF_CODES` and a reason."""

    code: str
    reason: str


def verdict(book: ev.BookRef, heard: Sequence[Heard], tolerance: Tolerance) -> Refusal | None:
    """None if the audio may be the wanted book, else the first refusal (see above)."""
    expected = book.expected or ev.Expectations()
    return (
        _undecodable(heard)
        or _wrong_title(book, heard)
        or _wrong_author(book, expected, heard)
        or _wrong_language(expected, heard)
        or _wrong_runtime(expected, heard, tolerance)
    )


def _undecodable(heard: Sequence[Heard]) -> Refusal | None:
    for file in heard:
        if file.fault is not None:
            return Refusal("UNDECODABLE", f"{file.name} {file.fault}")
    return None


# ---------------------------------------------------------------------------- the title


def _wrong_title(book: ev.BookRef, heard: Sequence[Heard]) -> Refusal | None:
    named = _distinct(_book_named(file.tags) for file in heard)
    if not named or any(_names_the_book(name, book) for name in named):
        return None
    return Refusal("WRONG_BOOK", f"the tags name the book {named[0]!r}, not {book.title!r}")


def _book_named(tags: Tags) -> str | None:
    """The book a file's tags name: the album, else a title that is no chapter name."""
    if tags.album:
        return tags.album
    if tags.title and not CHAPTER.match(tags.title):
        return tags.title
    return None


CHAPTER = re.compile(
    r"\s*(?:\d|[ivxlc]+\b[\s.:_-]|(?:chapters?|chap|ch|track|part|pt|disc|disk|cd|side"
    r"|section|kapitel|teil|chapitre|capitulo|capítulo|hoofdstuk|prologue?|epilogue?"
    r"|introduction|intro|preface|foreword|afterword|interlude|opening|closing|end"
    r"|credits|acknowledgements?|acknowledgments?)\b)",
    re.IGNORECASE,
)
"""A title that is a chapter or track name, as rips write them: "Chapter 01",
"Chapter 3: \"A Long-Expected Party\"", "Chapters 4-6", "Track 3", "01 - Prologue",
"001_Introduction", "Part One", "IV. The Return", "Opening Credits", "Kapitel 12"."""


def _names_the_book(tag: str, book: ev.BookRef) -> bool:
    """Whether a tag naming a book may name the wanted one: the wanted title's words are
    (fuzzily) in it, or its own words in the title (a shortened album), or it names only
    the book's series ("Mistborn 2", "The Stormlight Archive, Book 2")."""
    wanted, found = _words(book.title), _words(tag)
    if _covered(wanted, found) or _covered(found - NOISE, wanted):
        return True
    series = _words(book.series or "")
    rest = {w for w in found - series - NOISE if not w.isdigit()}
    return bool(series) and _covered(series, found) and not rest


STOPWORDS = frozenset({"a", "an", "the", "of", "and", "in", "on", "to", "at", "for", "by"})
NOISE = STOPWORDS | frozenset(
    {
        *("unabridged", "abridged", "audiobook", "audio", "book", "books", "volume", "vol"),
        *("part", "edition", "series", "novel", "trilogy", "saga", "omnibus", "collection"),
        *("retail", "dramatized", "dramatised", "cd", "disc", "mp3", "m4b"),
        *("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
        *("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"),
    }
)
"""Words an album adds to a book's name that name no other book."""
SHARE = 0.75
"""How many of a name's words must be found for it to match (one word of four may be
another market's: "Philosopher's Stone" for "Sorcerer's Stone")."""


def _words(text: str) -> frozenset[str]:
    words = match_text(text).split()
    significant = frozenset(w for w in words if w not in STOPWORDS)
    return significant or frozenset(words)


def _covered(wanted: Iterable[str], found: frozenset[str]) -> bool:
    """Whether (nearly) all of `wanted` are among `found`, spelling slips allowed."""
    wanted = list(wanted)
    if not wanted:
        return False
    hits = sum(_found(word, found) for word in wanted)
    return hits / len(wanted) >= SHARE


def _found(word: str, among: frozenset[str]) -> bool:
    if word in among:
        return True
    if len(word) < 5 or word.isdigit():
        return False  # a slip in a short word or a number is another word
    return process.extractOne(word, among, scorer=fuzz.ratio, score_cutoff=85) is not None


# --------------------------------------------------------------------------- the author


def _wrong_author(
    book: ev.BookRef, expected: ev.Expectations, heard: Sequence[Heard]
) -> Refusal | None:
    if not book.author:
        return None
    credits = _distinct(file.tags.album_artist or file.tags.artist for file in heard)
    credits = [c for c in credits if match_text(c) not in ANONYMOUS]
    if not credits or any(_credits(c, name) for c in credits for name in _people(book, expected)):
        return None
    return Refusal("WRONG_BOOK", f"the tags credit {credits[0]!r}, not {book.author!r}")


ANONYMOUS = frozenset(
    {"various", "various artists", "unknown", "unknown artist", "audiobook", "author", "va"}
)
"""Credits that name nobody."""
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "dr", "sir"})


def _people(book: ev.BookRef, expected: ev.Expectations) -> list[str]:
    """Whom a credit may name: the author, or a narrator (rips often credit the reader
    as the artist, which says nothing against the author)."""
    return [name for name in (book.author, *expected.narrators) if name]


def _credits(credit: str, person: str) -> bool:
    """Whether `credit` names `person` among others ("Brandon Sanderson, Dan Wells",
    "Sanderson, Brandon", "Brandon Sanderson read by Michael Kramer"): by the surname."""
    names = [w for w in match_text(person).split() if w not in SUFFIXES]
    return bool(names) and _found(names[-1], frozenset(match_text(credit).split()))


# ------------------------------------------------------------------ language and runtime


def _wrong_language(expected: ev.Expectations, heard: Sequence[Heard]) -> Refusal | None:
    tagged = _distinct(file.tags.language for file in heard)
    verdicts = {tag: same_language(tag, expected.language) for tag in tagged}
    known = [tag for tag, same in verdicts.items() if same is not None]
    if not known or any(verdicts[tag] for tag in known):
        return None  # untagged, unknown either side, or some file agrees
    said = language_name(known[0]) or known[0]
    return Refusal(
        "LANGUAGE_MISMATCH",
        f"the audio is tagged {known[0]!r} ({said}); the catalogue says {expected.language}",
    )


def _wrong_runtime(
    expected: ev.Expectations, heard: Sequence[Heard], tolerance: Tolerance
) -> Refusal | None:
    """An abridged edition, when that is what is wanted, may be any shorter."""
    if not expected.runtime_minutes:
        return None
    wanted_s = expected.runtime_minutes * 60
    found_s = sum(file.seconds for file in heard)
    allowed = tolerance.seconds(wanted_s)
    too_short = found_s < wanted_s - allowed and not expected.abridged
    if not too_short and found_s <= wanted_s + allowed:
        return None
    return Refusal(
        "RUNTIME_MISMATCH",
        f"the audio runs {span(found_s)}; the catalogue says {span(wanted_s)}",
    )


def span(seconds: float) -> str:
    """A running time as people say it: "16 h 41 min", "42 min", "4 s"."""
    if seconds < 60:
        return f"{round(seconds)} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _distinct(values: Iterable[str | None]) -> list[str]:
    """The non-empty values, each once, the most frequent first."""
    counts: dict[str, int] = {}
    for value in values:
        if value and value.strip():
            counts[value.strip()] = counts.get(value.strip(), 0) + 1
    return sorted(counts, key=lambda v: -counts[v])
