"""What the library owns (audiobooks, not ebooks) and how an owned series' gaps are
named (as the library names the series), without any server."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal

from services.discovery import gaps
from services.discovery.library_scan import scan_library
from services.discovery.ownership import audiobooks, skipped_details, skipped_note
from services.discovery.series_check import assessed, missing_book, owned_book, owned_series
from services.importer.layout import book_folder
from services.importer.sidecar import metadata_json
from shared import events as ev
from shared.clients.audiobookshelf import LibraryItem
from shared.task_runs import TaskRun
from tests.support.fakes import FakePublisher

LIBRARY_SERIES = "The Lantern Keepers"
LIBRARY_AUTHOR = "Mara Quill"


def item(n: int, *, audio_files: int | None = 1, title: str | None = None) -> LibraryItem:
    """Book `n` of the library's series; `audio_files=0` makes it ebook-only."""
    title = title or f"Book {n}"
    return LibraryItem(
        id=f"item-{n}", library_id="lib", path=f"/books/{title}", rel_path=title,
        title=title, subtitle=None, authors=(LIBRARY_AUTHOR,), narrators=(),
        series=((LIBRARY_SERIES, str(n)),), isbn=None, asin=f"B0LANTERN{n}", publisher=None,
        published_year=None, description=None, duration_seconds=None, added_at=None,
        updated_at=None, is_missing=False, audio_files=audio_files,
        ebook_format="epub" if audio_files == 0 else None,
    )  # fmt: skip


def run(name: str) -> TaskRun:
    return TaskRun(uuid.uuid4(), name, uuid.uuid4())


def test_an_item_without_audio_files_is_no_audiobook() -> None:
    ebook = item(5, audio_files=0)
    assert not ebook.has_audio
    assert item(1).has_audio
    assert item(2, audio_files=None).has_audio  # a server that does not say: not dropped
    held, skipped = audiobooks([item(1), ebook, item(2)])
    assert ([i.id for i in held], skipped) == (["item-1", "item-2"], [ebook])


def test_what_was_skipped_is_said_and_bounded() -> None:
    many = [item(n, audio_files=0, title=f"Ebook {n:03d}") for n in range(25)]
    details = skipped_details(many)
    assert details["ebook_only"] == 25
    assert details["ebook_only_titles"][:2] == ["Ebook 000", "Ebook 001"]
    assert len(details["ebook_only_titles"]) == 20
    note = skipped_note(many)
    assert note is not None
    assert note.startswith("25 ebook-only items skipped")
    assert note.endswith("Ebook 019 and 5 more")
    assert skipped_note([]) is None
    assert skipped_details([]) == {"ebook_only": 0, "ebook_only_titles": []}


async def test_an_ebook_only_item_is_not_discovered_and_a_recorded_one_is_removed() -> None:
    publisher = FakePublisher()
    scan = run("LIBRARY_SCAN")
    library = {"lib": [item(1), item(5, audio_files=0)]}
    held = await scan_library(library, {"item-5"}, publisher, scan)
    assert [i.id for i in held] == ["item-1"]
    assert [e.payload.abs_id for e in publisher.of(ev.BookDiscovered)] == ["item-1"]
    assert [e.payload.abs_id for e in publisher.of(ev.BookRemoved)] == ["item-5"]
    assert scan.details["ebook_only_titles"] == ["Book 5"]
    assert any("ebook-only" in line and "Book 5" in line for line in scan.log)


def catalogue_book(n: int, author: str) -> gaps.CatalogueBook:
    return gaps.CatalogueBook(
        f"B0LANTERN{n}", f"Book {n}", str(n), str(n), date(2021, 1, 1), "SinglePartBook",
        "unabridged", None, (author,),
    )  # fmt: skip


def test_a_gap_of_an_owned_series_is_named_and_filed_as_the_library_has_it() -> None:
    [group] = owned_series([item(1), item(2), item(4)])
    series = gaps.CatalogueSeries(
        "B0SERIES01", "Lantern Keepers", tuple(catalogue_book(n, "M. Quill") for n in range(1, 6))
    )
    owned = [owned_book(b) for b in group.books]
    assessment = gaps.find_gaps(series, owned, date(2026, 1, 1), library_name=group.name)
    refs = [missing_book(group, gap).book for gap in assessment.gaps]
    assert [(r.series, r.series_number, r.author) for r in refs] == [
        (LIBRARY_SERIES, "3", LIBRARY_AUTHOR),
        (LIBRARY_SERIES, "5", LIBRARY_AUTHOR),
    ]
    assert str(book_folder(refs[1])) == f"{LIBRARY_AUTHOR}/{LIBRARY_SERIES}/Vol. 5 - Book 5"
    sidecar = metadata_json(refs[1])
    assert (sidecar["series"], sidecar["authors"]) == (
        [f"{LIBRARY_SERIES} #5"],
        [LIBRARY_AUTHOR],
    )
    # The record says why it is a gap, and how sure that is.
    gap = missing_book(group, assessment.gaps[0], assessment)
    assert gap.confidence == 1.0
    assert gap.evidence == (
        f"position 3 of {LIBRARY_SERIES} in the catalogue, released 2021-01-01; the library "
        "holds 3 of the series' 5 released positions (catalogue series B0SERIES01)"
    )
    summary = assessed(group, assessment)
    assert (summary.name, summary.author, summary.books_missing) == (
        LIBRARY_SERIES,
        LIBRARY_AUTHOR,
        2,
    )


def test_a_series_whose_books_name_no_author_takes_the_catalogues() -> None:
    anonymous = replace(item(1), authors=())
    [group] = owned_series([anonymous])
    gap = gaps.Gap(
        position=Decimal(2), sequence="2", book=catalogue_book(2, "Mara Quill"), priority=1
    )
    book = missing_book(group, gap).book
    assert (book.series, book.author) == (LIBRARY_SERIES, "Mara Quill")
