"""End to end, in a library that differs from the catalogue: it holds books 1, 2 and 4 as
audiobooks and book 5 as an epub alone, and calls the series "The Lantern Keepers" where
the catalogue says "Lantern Keepers". The audiobooks of 3 and 5 are still fetched, and
filed into the library's series: Audiobookshelf shows one series, not two."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.world import AUTHOR, BOOKS, SERIES, Sandbox
from tests.support.pipelines import Pipeline, running_pipeline
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PIPELINE_TIMEOUT_S = 180.0


@pytest.fixture(scope="module")
async def pipeline(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pipeline]:
    world = Sandbox(
        tmp_path_factory.mktemp("sandbox"), ebook_only=(5,), catalogue_series="Lantern Keepers"
    )
    async with running_pipeline(stack, world, "e2espell") as running:
        yield running


async def test_the_audiobooks_of_3_and_5_join_the_librarys_series(pipeline: Pipeline) -> None:
    async def filled() -> bool:
        pipeline.alive()
        gaps = await pipeline.gaps()  # the gaps recorded under the library's series name
        return len(gaps) == 2 and all(g["download_status"] == "imported" for g in gaps)

    await wait_until(filled, within=PIPELINE_TIMEOUT_S, interval=0.5, what="both gaps imported")
    gaps = await pipeline.gaps()
    assert [(g["series_number"], g["title"]) for g in gaps] == [
        ("3", "The Glass Orchard"),
        ("5", "The Last Keeper"),
    ]

    abs_ = pipeline.world.abs
    assert abs_ is not None
    audiobooks = {i.title: i for i in abs_.items() if i.audio}
    for book in (BOOKS[2], BOOKS[4]):
        item = audiobooks[book.title]
        assert item.rel_path == f"{AUTHOR}/{SERIES}/Vol. {book.position} - {book.title}"
        assert (SERIES, str(book.position)) in item.series
    assert {name for item in abs_.items() for name, _ in item.series} == {SERIES}
    [epub] = [i for i in abs_.items() if not i.audio]
    assert (epub.title, epub.is_missing) == ("The Last Keeper", False)  # left as it was

    # The record: the epub is no book of the library; one series, named as the library has it.
    books = await pipeline.rows("SELECT abs_id FROM books WHERE abs_id = $1", epub.id)
    assert books == []
    series = await pipeline.rows("SELECT name, books_owned FROM series ORDER BY name")
    assert [s["name"] for s in series] == [SERIES]
    details = await pipeline.rows(
        "SELECT task_name, metadata ->> 'ebook_only' AS ebook_only FROM tasks "
        "WHERE task_name IN ('LIBRARY_SCAN', 'SERIES') AND status = 'completed'"
    )
    assert details
    assert all(d["ebook_only"] == "1" for d in details)
    assert await pipeline.rows("SELECT error_code FROM failed_attempts") == []
