"""The metadata.json sidecar, checked against how Audiobookshelf merges it
(`abmetadataGenerator.parseJson` + `AbsMetadataFileScanner`, v2.36, ported below)."""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path
from typing import Any

import pytest

from services.importer.sidecar import SIDECAR, metadata_json, write_sidecar
from shared.events import BookRef

BOOK = BookRef(
    title="The Glass Orchard",
    author="Mara Quill",
    series="Lanterns",
    series_number="3",
    asin="B0GLASS003",
)

_STRINGS = ("title", "subtitle", "publishedYear", "publisher", "description", "isbn", "asin")
_LISTS = ("authors", "narrators", "series", "genres")


def abs_merges(text: str, found: dict[str, Any]) -> dict[str, Any]:
    """What Audiobookshelf makes of `found` (from tags, folder names…) plus our file."""
    document = json.loads(text)
    merged = dict(found)
    for key in (*_STRINGS, "language", *_LISTS, "explicit", "abridged"):
        if key not in document:
            continue
        value = document[key]
        if key in _LISTS:
            value = [] if value is None else list(dict.fromkeys(v.strip() for v in value if v))
            if key == "series":
                value = [_abs_series(v) for v in value]
        if value is None or (key in ("authors", "genres") and not value):
            continue  # skipped: what ABS found elsewhere stays
        merged[key] = value
    return merged


def _abs_series(text: str) -> dict[str, str | None]:
    match = re.search(r" #([^#\s]+)$", text)
    if not match:
        return {"name": text, "sequence": None}
    return {"name": text.replace(match[0], "", 1), "sequence": match[1]}


FROM_TAGS = {"title": "glass orchard (unabridged)", "narrators": ["Tag Reader"], "year": "1999"}


def test_abs_takes_title_author_series_and_position_from_the_sidecar(tmp_path: Path) -> None:
    path = write_sidecar(tmp_path, metadata_json(BOOK))
    merged = abs_merges(path.read_text(encoding="utf-8"), FROM_TAGS)
    assert merged["title"] == "The Glass Orchard"
    assert merged["authors"] == ["Mara Quill"]
    assert merged["series"] == [{"name": "Lanterns", "sequence": "3"}]
    assert merged["asin"] == "B0GLASS003"


def test_what_the_importer_does_not_know_leaves_abs_alone(tmp_path: Path) -> None:
    path = write_sidecar(tmp_path, metadata_json(BookRef(title="Solo")))
    merged = abs_merges(path.read_text(encoding="utf-8"), FROM_TAGS)
    assert merged == FROM_TAGS | {"title": "Solo"}  # narrators and year from the tags stay


def test_everything_known_is_written(tmp_path: Path) -> None:
    data = metadata_json(
        BOOK,
        authors=["Mara Quill", " Ode Finch ", "", "Mara Quill"],
        narrators=["Sam Reed"],
        asin="B0OTHER001",
        subtitle="Lanterns, Book 3",
        genres=["Fantasy"],
        published_year=2021,
        publisher="Hollow Press",
        description="A book.",
        isbn="9780000000000",
        language="English",
        explicit=False,
        abridged=False,
    )
    assert data == {
        "title": "The Glass Orchard",
        "subtitle": "Lanterns, Book 3",
        "authors": ["Mara Quill", "Ode Finch"],
        "narrators": ["Sam Reed"],
        "series": ["Lanterns #3"],
        "genres": ["Fantasy"],
        "publishedYear": "2021",
        "publisher": "Hollow Press",
        "description": "A book.",
        "isbn": "9780000000000",
        "asin": "B0OTHER001",
        "language": "English",
        "explicit": False,
        "abridged": False,
    }


@pytest.mark.parametrize(
    ("number", "entry", "sequence"),
    [("0.5", "S #0.5", "0.5"), ("1 - 3", "S #1-3", "1-3"), (None, "S", None), ("#", "S", None)],
)
def test_series_entries_are_name_hash_position(
    number: str | None, entry: str, sequence: str | None
) -> None:
    data = metadata_json(BookRef(title="T", series="S", series_number=number))
    assert data["series"] == [entry]
    assert _abs_series(entry) == {"name": "S", "sequence": sequence}


def test_the_sidecar_is_replaced_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / SIDECAR).write_text("{old", encoding="utf-8")
    write_sidecar(tmp_path, metadata_json(BookRef(title="Ünïcode: 日本語")))
    assert [p.name for p in tmp_path.iterdir()] == [SIDECAR]
    assert json.loads((tmp_path / SIDECAR).read_text(encoding="utf-8"))["title"] == (
        "Ünïcode: 日本語"
    )


def test_a_sidecar_symlink_is_replaced_not_written_through(tmp_path: Path) -> None:
    book_dir, outside = tmp_path / "book", tmp_path / "outside.json"
    book_dir.mkdir()
    outside.write_text("untouched", encoding="utf-8")
    (book_dir / SIDECAR).symlink_to(outside)
    write_sidecar(book_dir, metadata_json(BOOK))
    assert outside.read_text(encoding="utf-8") == "untouched"
    assert not (book_dir / SIDECAR).is_symlink()


def test_a_book_folder_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(OSError, match=r"Not a directory|Too many levels") as caught:
        write_sidecar(tmp_path / "link", metadata_json(BOOK))
    assert caught.value.errno in (errno.ELOOP, errno.ENOTDIR)
    assert list((tmp_path / "real").iterdir()) == []
