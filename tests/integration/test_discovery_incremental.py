"""An incremental library sync against the fake Audiobookshelf, over loopback: a re-run
reads in full only what changed (by `updatedAt`), publishes nothing for the rest, and
still finds a removed book."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr

from sandbox.audiobookshelf import FakeAudiobookshelf
from sandbox.generated_library import generate
from services.discovery.library_scan import scan_library
from services.discovery.library_sync import LibrarySnapshot, SyncedLibraries
from shared import events as ev
from shared.clients.audiobookshelf import AudiobookshelfClient
from shared.task_runs import TaskRun
from tests.support.fakes import FakePublisher
from tests.support.http import fast_http

KEY = "incremental-key"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[FakeAudiobookshelf]:
    async with FakeAudiobookshelf(tmp_path / "library", KEY) as fake:
        fake.load(generate(11, books=300, series=30, authors=60).items)
        yield fake


async def sync(
    server: FakeAudiobookshelf, snapshot: LibrarySnapshot, present: set[str]
) -> tuple[SyncedLibraries, FakePublisher]:
    """One LIBRARY_SCAN as `Discovery.run` does it; what it read and published."""
    publisher = FakePublisher()
    async with fast_http() as http:
        client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
        synced = await snapshot.read(client, [], present)
    run = TaskRun(uuid.uuid4(), "LIBRARY_SCAN", uuid.uuid4())
    await scan_library(synced.libraries, present, publisher, run, synced.fresh)
    snapshot.keep(synced)
    return synced, publisher


def discovered(publisher: FakePublisher) -> set[str]:
    return {e.payload.abs_id for e in publisher.of(ev.BookDiscovered)}


async def test_a_rerun_reads_and_publishes_only_what_changed(server: FakeAudiobookshelf) -> None:
    snapshot = LibrarySnapshot()
    first, published = await sync(server, snapshot, present=set())
    audiobooks = {i.id for i in server.items() if i.audio}
    assert discovered(published) == audiobooks
    assert len(first.fresh) == 300

    books = [i for i in server.items() if i.audio]
    changed = [
        replace(i, title=f"{i.title} (revised)", updated_at=i.updated_at + 1) for i in books[:3]
    ]
    server.load(changed + [i for i in server.items() if i.id not in {c.id for c in changed}])
    server.remove(books[-1].id)

    second, published = await sync(server, snapshot, present=audiobooks)
    assert second.fresh == {c.id for c in changed}  # only these were read in full
    assert discovered(published) == {c.id for c in changed}
    assert {e.payload.title for e in publisher_of(published)} == {c.title for c in changed}
    assert [e.payload.abs_id for e in published.of(ev.BookRemoved)] == [books[-1].id]


async def test_a_book_the_record_lacks_is_read_and_published_again(
    server: FakeAudiobookshelf,
) -> None:
    snapshot = LibrarySnapshot()
    await sync(server, snapshot, present=set())
    audiobooks = {i.id for i in server.items() if i.audio}
    lost = sorted(audiobooks)[0]  # its event never reached the record
    again, published = await sync(server, snapshot, present=audiobooks - {lost})
    assert again.fresh == {lost}
    assert discovered(published) == {lost}
    assert published.of(ev.BookRemoved) == []


def publisher_of(published: FakePublisher) -> list[ev.BookDiscovered]:
    return list(published.of(ev.BookDiscovered))
