"""The `metadata.json` Audiobookshelf reads from a book folder. It wins over folder names,
audio tags, `.nfo`, `desc.txt`/`reader.txt` and `.opf`, so the importer states title,
authors, series and position without touching the (hard-linked, still seeding) audio.

How ABS reads it (`AbsMetadataFileScanner`, `abmetadataGenerator.parseJson`): keys title,
subtitle, authors, narrators, series, genres, publishedYear, publisher, description,
isbn, asin, language (strings or string lists), explicit, abridged (booleans); a series
entry is "Name #sequence", the sequence being one token without spaces or "#".
A null value is skipped (what tags or folder names said stays), but an empty `narrators`
or `series` list replaces what the tags said with nothing — so unknown lists are left
out of the file rather than written empty.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.importer.layout import position
from shared.events import BookRef

SIDECAR = "metadata.json"

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def metadata_json(
    book: BookRef,
    *,
    authors: Sequence[str] | None = None,
    narrators: Sequence[str] = (),
    asin: str | None = None,
    subtitle: str | None = None,
    genres: Sequence[str] = (),
    published_year: int | str | None = None,
    publisher: str | None = None,
    description: str | None = None,
    isbn: str | None = None,
    language: str | None = None,
    explicit: bool | None = None,
    abridged: bool | None = None,
) -> dict[str, Any]:
    """The sidecar's content for `book`; `authors` defaults to the book's author and
    `asin` to the book's ASIN; what is unknown stays None (ABS then keeps its own)."""
    scalars: dict[str, Any] = {
        "title": book.title,
        "subtitle": subtitle,
        "publishedYear": None if published_year is None else str(published_year),
        "publisher": publisher,
        "description": description,
        "isbn": isbn,
        "asin": asin or book.asin,
        "language": language,
        "explicit": explicit,
        "abridged": abridged,
    }
    lists = {
        "authors": _names(authors if authors is not None else [book.author or ""]),
        "narrators": _names(narrators),
        "series": _series(book),
        "genres": _names(genres),
    }
    return scalars | {key: values for key, values in lists.items() if values}


def write_sidecar(folder: Path, data: dict[str, Any]) -> Path:
    """Write `folder/metadata.json` atomically: a reader sees the old file or the new one,
    never half of one. `folder` must be the book folder `plan_placement` checked."""
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    directory = os.open(folder, _DIRECTORY)
    temporary = f".metadata-{secrets.token_hex(6)}.json.partial"
    try:
        out = os.open(temporary, _CREATE, 0o644, dir_fd=directory)  # 0o644 less umask
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, SIDECAR, src_dir_fd=directory, dst_dir_fd=directory)
    finally:
        with contextlib.suppress(FileNotFoundError):  # already renamed into place
            os.unlink(temporary, dir_fd=directory)
        os.close(directory)
    return folder / SIDECAR


def _names(values: Sequence[str]) -> list[str]:
    """Trimmed, without blanks or repeats, in order (as ABS keeps them)."""
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def _series(book: BookRef) -> list[str]:
    name = (book.series or "").strip()
    if not name:
        return []
    number = position(book.series_number)
    return [f"{name} #{number}" if number else name]
