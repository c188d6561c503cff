"""Where a book goes in the library, and how its files sit in that folder: the layout
Audiobookshelf parses (`server/utils/scandir.js`). Pure.

The folder is `<Author>/<Series>/Vol. <N> - <Title>`, `<Author>/<Series>/<Title>` when the
position is unknown, `<Author>/<Title>` outside any series. Audiobookshelf reads the title
folder like this, and the title is written so that it cannot be misread:

- Under a series folder it splits the name at " - " and takes the first part that looks
  like a position ("Vol. 3", "Book 2", "6.", "0.5", "300") as the sequence. Our own
  "Vol. N" comes first, so a title that starts with digits ("Vol. 2 - 1984") is never
  taken for the position. A title's own " - " is written with an en dash so the title
  stays one part: its pieces cannot be read as a position or (optionally) a subtitle.
- Then a leading "1983 - ", "(1983) - " or "1984-85" is read as the published year: the
  hyphen after a title's leading four digits is written as an en dash ("2001 - A Space
  Odyssey" keeps its words but cannot be read as the year 2001). This matters most,
  because `metadata.json` cannot unset a wrong year.
- " [B0XXXXXXXX]" (ten capitals/digits) is read as an ASIN and "{…}" at the end as the
  narrators: such brackets and every brace in a title are written as parentheses.

- It reads a position of at most three digits and two decimals ("Vol. 12.25"); a range
  ("4-6", an omnibus) or a longer number ("1000") is no position to it and would stay in
  the title ("Vol. 4-6 - Omnibus Two"): such a position is left out of the folder name
  (the title folder is the title alone) and `metadata.json` carries it.
- The author folder is read as names, "Last, First" as "First Last"; a name ending in a
  dot cannot end a folder name (Windows and SMB refuse it), so "Le Guin, Ursula K." is
  written "Ursula K. Le Guin", not "Le Guin, Ursula K" (read as "Ursula K Le Guin").

What is left — a title that is itself position-like ("300", "12. Monkeys") in a series
whose position is unknown or cannot be written — is misread from the folder name alone,
and corrected by the book's `metadata.json`, which states title and series and wins.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from pathlib import PurePosixPath

from shared.events import BookRef

MAX_COMPONENT_BYTES = 180
UNKNOWN = "Unknown"
UNKNOWN_AUTHOR = "Unknown Author"
EN_DASH = "\u2013"

_RESERVED = frozenset('/\\:*?"<>|')
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACED_HYPHEN = re.compile(r"(?<= )-(?= )")
_LEADING_YEAR = re.compile(r"^(\(?\d{4}\)? *)-")
_ASIN_LIKE = re.compile(r"(?:(?<= )|^)\[([A-Z0-9]{10})\](?= |$)")
_DISC_FOLDER = re.compile(r"^(cd|dis[ck])\s*\d{1,3}$", re.IGNORECASE)
_READABLE_POSITION = re.compile(r"^\d{1,3}(?:\.\d{1,2})?$")
_NAME_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "phd", "md"})
_MAX_EXTENSION = 16


def sanitise(name: str, *, fallback: str = UNKNOWN) -> str:
    """One safe path component: no separators, reserved or control characters, no
    leading/trailing dots or spaces, whitespace collapsed, NFC, at most 180 UTF-8 bytes;
    `fallback` when nothing is left."""
    text = unicodedata.normalize("NFC", name)
    text = "".join(" " if _unsafe(c) else c for c in text)
    text = _cut(" ".join(text.split()).strip(" ."), MAX_COMPONENT_BYTES)
    return text or fallback


def sanitise_file_name(name: str) -> str:
    """A file name made safe like `sanitise`, keeping its extension (`..mp3` → `Unknown.mp3`)."""
    stem, dot, extension = name.rpartition(".")
    extension = sanitise(extension, fallback="")
    if not dot or not extension or len(extension.encode()) > _MAX_EXTENSION:
        return sanitise(name)
    room = MAX_COMPONENT_BYTES - len(extension.encode()) - 1
    return f"{_cut(sanitise(stem), room) or UNKNOWN}.{extension}"


def position(series_number: str | None) -> str | None:
    """A series position as one token ("1 - 3" → "1-3"), as both the folder name and
    metadata.json's "Series #N" need it; None when there is none."""
    token = "".join((series_number or "").split()).replace("#", "")
    return token or None


def book_folder(book: BookRef) -> PurePosixPath:
    """The book's folder, relative to the library root."""
    author = sanitise(first_last(book.author or ""), fallback=UNKNOWN_AUTHOR)
    title = _title(book.title)
    series = sanitise(book.series or "", fallback="")
    if not series:
        return PurePosixPath(author, title)
    number = sanitise(position(book.series_number) or "", fallback="")
    if not _READABLE_POSITION.match(number):  # none, a range, or too long for ABS to read
        return PurePosixPath(author, series, title)
    return PurePosixPath(author, series, _cut(f"Vol. {number} - {title}", MAX_COMPONENT_BYTES))


def first_last(author: str) -> str:
    """One author written "Last, First" ("Le Guin, Ursula K.") as "First Last"; anything
    else (several authors, "Smith, Jr.") as it is."""
    last, comma, first = author.partition(",")
    first = first.strip()
    if not comma or not first or not last.strip() or any(c in author for c in "&;"):
        return author
    if "," in first or first.lower() in _NAME_SUFFIXES:
        return author
    return f"{first} {last.strip()}"


def arrange_files(
    files: Sequence[PurePosixPath], audio: Sequence[PurePosixPath]
) -> list[PurePosixPath]:
    """Where each of `files` (relative to the download) goes inside the book folder, in
    the same order, each component sanitised.

    Audiobookshelf takes the deepest folder holding audio for the book, merging only
    `CD1`/`Disc 2` folders, so: folders that hold all the `audio` ("Release/Audio/…")
    are dropped, a disc folder directly in the book folder is kept, and any other
    folders are folded into the file name ("Part 1/01.mp3" → "Part 1 - 01.mp3").
    """
    wrapper = _common_folders(audio)
    return [_arranged(_unwrapped(path, wrapper)) for path in files]


def _unsafe(character: str) -> bool:
    if character in _RESERVED or character in _BIDI_CONTROLS:
        return True
    return unicodedata.category(character) in ("Cc", "Cs")  # controls, lone surrogates


def _cut(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut between characters, no trailing dot or space."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode(errors="ignore").rstrip(" .")


def _title(text: str) -> str:
    title = _SPACED_HYPHEN.sub(EN_DASH, sanitise(text))
    title = _LEADING_YEAR.sub(f"\\1{EN_DASH}", title, count=1)
    title = _ASIN_LIKE.sub("(\\1)", title).replace("{", "(").replace("}", ")")
    return _cut(title, MAX_COMPONENT_BYTES)  # an en dash is two bytes longer than "-"


def _common_folders(paths: Sequence[PurePosixPath]) -> tuple[str, ...]:
    """The leading folders all `paths` share, short of a disc folder (ABS reads those)."""
    if not paths:
        return ()
    common = paths[0].parent.parts
    for path in paths[1:]:
        folders = path.parent.parts
        shared = 0
        while shared < min(len(common), len(folders)) and common[shared] == folders[shared]:
            shared += 1
        common = common[:shared]
    return common[:-1] if common and _DISC_FOLDER.match(common[-1]) else common


def _unwrapped(path: PurePosixPath, wrapper: tuple[str, ...]) -> PurePosixPath:
    if wrapper and path.parts[: len(wrapper)] == wrapper:
        return PurePosixPath(*path.parts[len(wrapper) :])
    return path


def _arranged(path: PurePosixPath) -> PurePosixPath:
    folders = path.parts[:-1]
    if len(folders) == 1 and _DISC_FOLDER.match(folders[0]):
        return PurePosixPath(sanitise(folders[0]), sanitise_file_name(path.name))
    return PurePosixPath(sanitise_file_name(" - ".join(path.parts)))
