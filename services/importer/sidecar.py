"""The `metadata.json` Audiobookshelf reads from a book folder, and wins over folder
names and audio tags: the importer states title, author, series and sequence without
touching the (hard-linked, still seeding) audio files."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from shared.events import BookRef

SIDECAR = "metadata.json"


def metadata_json(book: BookRef, *, narrators: tuple[str, ...] = ()) -> dict[str, Any]:
    """The sidecar's content for `book` (series as "Name #sequence", as ABS writes it)."""
    series = []
    if book.series:
        series.append(f"{book.series} #{book.series_number}" if book.series_number else book.series)
    return {
        "title": book.title,
        "subtitle": None,
        "authors": [book.author] if book.author else [],
        "narrators": list(narrators),
        "series": series,
        "genres": [],
        "publishedYear": None,
        "publisher": None,
        "description": None,
        "isbn": None,
        "asin": book.asin,
        "language": None,
        "explicit": False,
        "abridged": False,
    }


def write_sidecar(folder: Path, data: dict[str, Any]) -> Path:
    """Write `folder/metadata.json` atomically (a reader never sees half of it)."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".metadata-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
        os.chmod(temporary, 0o644)
        os.replace(temporary, folder / SIDECAR)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return folder / SIDECAR
