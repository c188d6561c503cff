"""A generated library, as messy as real ones, and a catalogue that knows it.

`generate(seed)` makes (by default) 20,000 items in 2,000 series by 4,000 authors, the
same for the same seed: series named with "(Publication Order)" on some books and not
others, positions written "Book 3", novellas at "2.5", omnibuses "1-3", ASINs missing on
one book in ten, authors written "Last, First" and co-authors, books outside any series,
ebook-only items. The catalogue lists every series in full; the positions the library
lacks are its gaps. `load` puts both into the sandbox's fakes.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date

from sandbox.audible import FakeAudible, FakeBook
from sandbox.audiobookshelf import FakeAudiobookshelf, FakeAudioFile, FakeItem

_WORDS = (
    "amber ash autumn bell bramble cinder copper crow dawn drift ember fable fern frost "
    "gale glass harbour hollow iron ivy lantern marsh meadow mirror moth north oak orchard "
    "pearl quarry raven reed river rook rust salt shadow silver slate sparrow spire stone "
    "storm thorn tide tower vale willow winter wren"
)
WORDS = _WORDS.split()
_FIRST = "Ada Bram Cass Dara Eli Fenn Gwen Hal Iris Jory Kit Lena Milo Nell Orin Pia"
FIRST = _FIRST.split()
ORIGIN_MS = 1_767_225_600_000  # 2026-01-01, when every generated item was last updated


@dataclass
class GeneratedLibrary:
    """The items Audiobookshelf lists and the series the catalogue knows."""

    items: list[FakeItem] = field(default_factory=list)
    series: list[tuple[str, str, list[FakeBook]]] = field(default_factory=list)


def generate(
    seed: int = 1, books: int = 20_000, series: int = 2_000, authors: int = 4_000
) -> GeneratedLibrary:
    """A library of `books` items, `series` series and `authors` authors."""
    rng = random.Random(seed)  # noqa: S311 (made up data, reproducible)
    library = GeneratedLibrary()
    names = _author_names(rng, authors)
    per_series = max(1, round(books * 0.8 / series))  # four books in five are in a series
    for s in range(series):
        _add_series(rng, library, s, names, per_series, seed)
    standalone = 0
    while len(library.items) < books:
        author = names[series + standalone % max(1, authors - series)]
        title = _title(rng, str(100_000 + standalone))
        asin = f"B0{seed % 100:02d}{standalone:06d}" if rng.random() > 0.1 else None
        library.items.append(_item(rng, seed, [author], None, None, title, asin))
        standalone += 1
    return library


def _add_series(
    rng: random.Random,
    library: GeneratedLibrary,
    s: int,
    names: list[str],
    per_series: int,
    seed: int,
) -> None:
    author = names[s]
    coauthor = names[len(names) - 1 - s] if rng.random() < 0.08 else ""
    name = f"The {WORDS[s % len(WORDS)].title()} {WORDS[(s // len(WORDS)) % len(WORDS)].title()}"
    name += f" Cycle {s}"
    size = rng.randint(max(2, per_series - 3), per_series + 4)
    catalogue: list[FakeBook] = []
    for n in range(1, size + 1):
        sequence = f"{n - 1}.5" if n > 2 and rng.random() < 0.05 else str(n)
        title = _title(rng, str(s * 100 + n))
        asin = f"B1{seed % 100:02d}{s:04d}{n:02d}"
        catalogue.append(FakeBook(asin, title, sequence, author, date(2001 + n, 1, 1)))
    library.series.append((f"B0S{seed % 100:02d}{s:05d}", name, catalogue))
    omnibus = size >= 6 and rng.random() < 0.05
    for book in catalogue[(3 if omnibus else 0) :]:
        if rng.random() < 0.12:
            continue  # a gap: the catalogue has it, the library does not
        series_name, sequence = _messy(rng, name, book.sequence or "")
        who = [author, coauthor] if coauthor else [author]
        owned_asin = book.asin if rng.random() > 0.1 else None
        library.items.append(_item(rng, seed, who, series_name, sequence, book.title, owned_asin))
    if omnibus:
        who = [author]
        library.items.append(_item(rng, seed, who, name, "1-3", f"{name} Books 1-3", None))


def _messy(rng: random.Random, name: str, sequence: str) -> tuple[str, str]:
    """A series name and position as libraries write them."""
    if rng.random() < 0.1:
        name = f"{name} (Publication Order)"
    if rng.random() < 0.1 and "." not in sequence:
        sequence = f"Book {sequence}"
    return name, sequence


def _item(
    rng: random.Random,
    seed: int,
    authors: list[str],
    series: str | None,
    sequence: str | None,
    title: str,
    asin: str | None,
) -> FakeItem:
    n = rng.getrandbits(64)
    written = [_last_first(a) if rng.random() < 0.1 else a for a in authors]
    folder = f"{written[0]}/{series}/{title}" if series else f"{written[0]}/{title}"
    ebook_only = rng.random() < 0.02
    audio = [] if ebook_only else [FakeAudioFile(f"{title}.m4b", 40_000_000, 36_000.0)]
    return FakeItem(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"generated:{seed}:{n}:{folder}")),
        rel_path=folder,
        title=title,
        authors=written,
        series=[(series, sequence)] if series else [],
        narrators=[f"{rng.choice(FIRST)} Reader"],
        description=" ".join(rng.choices(WORDS, k=60)),  # a blurb, as most items have
        asin=asin,
        audio=audio,
        ebook=(f"{title}.epub", 500_000) if ebook_only else None,
        added_at=ORIGIN_MS,
        updated_at=ORIGIN_MS,
    )


def _author_names(rng: random.Random, count: int) -> list[str]:
    return [f"{rng.choice(FIRST)} {WORDS[n % len(WORDS)].title()}son {n}" for n in range(count)]


def _last_first(name: str) -> str:
    first, _, last = name.partition(" ")
    return f"{last}, {first}"


def _title(rng: random.Random, tag: str) -> str:
    return f"{rng.choice(WORDS).title()} of {rng.choice(WORDS).title()} {tag}"


def load(library: GeneratedLibrary, abs_server: FakeAudiobookshelf, audible: FakeAudible) -> None:
    """Put the library into the fake Audiobookshelf and its series into the catalogue."""
    abs_server.load(library.items)
    for asin, title, books in library.series:
        audible.add_series(asin, title, books)
