"""Discovery against the sandbox's Audiobookshelf and catalogue, over loopback: what the
library owns (audiobooks, not ebooks) and how a gap of an owned series is named."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr

from sandbox.world import ABS_KEY, AUTHOR, SERIES, Sandbox
from services.discovery.catalogue import AudibleCatalogue
from services.discovery.library_scan import read_libraries, scan_library
from services.discovery.series_check import check_series
from services.importer.layout import book_folder
from shared import events as ev
from shared.clients.audiobookshelf import AudiobookshelfClient
from shared.http import PoliteHttp
from shared.task_runs import TaskRun
from tests.support.fakes import FakePublisher
from tests.support.http import fast_http

TODAY = date(2026, 11, 24)


class Discovered:
    """One discovery (library scan, then series check) and what it published."""

    def __init__(self) -> None:
        self.publisher = FakePublisher()
        self.scan = TaskRun(uuid.uuid4(), "LIBRARY_SCAN", uuid.uuid4())
        self.series = TaskRun(uuid.uuid4(), "SERIES", uuid.uuid4())

    def gaps(self) -> list[ev.BookRef]:
        return [e.payload.book for e in self.publisher.of(ev.MissingBookIdentified)]


@pytest.fixture
async def http() -> AsyncIterator[PoliteHttp]:
    async with fast_http() as client:
        yield client


async def discover(world: Sandbox, http: PoliteHttp, present: set[str]) -> Discovered:
    await world.start_library()
    try:
        library = AudiobookshelfClient(world.urls["abs"], SecretStr(ABS_KEY), http)
        catalogue = AudibleCatalogue(http, base_url=world.urls["audible"])
        found = Discovered()
        libraries = await read_libraries(library, [])
        await scan_library(libraries, present, found.publisher, found.scan)
        items = [i for lib in libraries.values() for i in lib if not i.is_missing]  # as run()
        await check_series(catalogue, items, set(), found.publisher, found.series, TODAY)
        return found
    finally:
        await world.stop()


async def test_an_epub_of_book_5_does_not_own_its_audiobook(
    tmp_path: Path, http: PoliteHttp
) -> None:
    world = Sandbox(tmp_path / "world", ebook_only=(5,))
    found = await discover(world, http, present=set())
    discovered = [e.payload.title for e in found.publisher.of(ev.BookDiscovered)]
    assert sorted(discovered) == ["A Quiet Harbour", "Lamps at Low Tide", "The Salt Road"]
    assert [(g.series_number, g.title) for g in found.gaps()] == [
        ("3", "The Glass Orchard"),
        ("5", "The Last Keeper"),
    ]
    for run in (found.scan, found.series):
        assert (run.details["ebook_only"], run.details["ebook_only_titles"]) == (
            1,
            ["The Last Keeper"],
        )
        assert any("ebook-only" in line and "The Last Keeper" in line for line in run.log)
    [series] = found.publisher.of(ev.SeriesAssessed)
    assert (series.payload.books_owned, series.payload.books_missing) == (3, 2)


async def test_an_epub_the_record_took_for_a_book_is_removed_from_it(
    tmp_path: Path, http: PoliteHttp
) -> None:
    world = Sandbox(tmp_path / "world", ebook_only=(5,))
    await world.start_library()
    assert world.abs is not None
    [epub] = [i for i in world.abs.items() if not i.audio]
    await world.stop()
    found = await discover(world, http, present={epub.id})
    assert [e.payload.abs_id for e in found.publisher.of(ev.BookRemoved)] == [epub.id]


async def test_a_series_the_catalogue_names_otherwise_keeps_the_library_name(
    tmp_path: Path, http: PoliteHttp
) -> None:
    world = Sandbox(tmp_path / "world", catalogue_series="Lantern Keepers")
    found = await discover(world, http, present=set())
    gaps = found.gaps()
    assert [(g.series, g.series_number, g.author) for g in gaps] == [
        (SERIES, "3", AUTHOR),
        (SERIES, "5", AUTHOR),
    ]
    # Filed where the library keeps the series: its existing folder, not a second one.
    folders = {book_folder(g).parent for g in gaps}
    assert [str(f) for f in folders] == [f"{AUTHOR}/{SERIES}"]
    assert (world.library / f"{AUTHOR}/{SERIES}").is_dir()
    [series] = found.publisher.of(ev.SeriesAssessed)
    assert (series.payload.name, series.payload.books_owned) == (SERIES, 3)


async def test_the_default_world_is_unchanged(tmp_path: Path, http: PoliteHttp) -> None:
    found = await discover(Sandbox(tmp_path / "world"), http, present=set())
    assert [(g.series, g.series_number) for g in found.gaps()] == [(SERIES, "3"), (SERIES, "5")]
    assert found.scan.details["ebook_only"] == 0
