"""The Torznab client against the fake indexer, over loopback."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from sandbox.torrents import make_torrent
from sandbox.torznab import FakeTorznab
from services.downloader.torrent_client import info_hash
from services.downloader.torznab import IndexerError, Indexers, TorznabIndexer
from shared.http import PoliteHttp
from tests.support.http import fast_http

KEY = "indexer-s3cret-key"


@pytest.fixture
async def http() -> AsyncIterator[PoliteHttp]:
    async with fast_http() as client:
        yield client


@pytest.fixture
async def indexer(tmp_path: Path) -> AsyncIterator[FakeTorznab]:
    content = tmp_path / "Mara Quill - The Glass Orchard [m4b]"
    content.mkdir()
    (content / "book.m4b").write_bytes(os.urandom(100_000))
    torrent = make_torrent(content, "http://127.0.0.1:9/announce")
    async with FakeTorznab(KEY) as fake:
        fake.add_release(
            content.name, torrent, seeders=4, author="Mara Quill", booktitle="The Glass Orchard"
        )
        fake.add_release(
            "Someone Else - Other Book [mp3]", torrent, seeders=9, author="Someone Else"
        )
        yield fake


async def test_a_book_search_finds_the_release_and_its_torrent(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    client = TorznabIndexer("sandbox", f"{indexer.base_url}/api", SecretStr(KEY), http)
    releases = await client.search("The Glass Orchard", "Mara Quill")
    assert [r.title for r in releases] == ["Mara Quill - The Glass Orchard [m4b]"]
    release = releases[0]
    assert (release.seeders, release.author, release.booktitle) == (
        4,
        "Mara Quill",
        "The Glass Orchard",
    )
    assert indexer.requests[-1]["t"] == "book"
    torrent = await client.fetch_torrent(release)
    assert info_hash(torrent) == release.info_hash
    assert KEY not in repr(release)


async def test_without_book_search_the_query_is_free_text(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    indexer.book_search = False
    client = TorznabIndexer("sandbox", f"{indexer.base_url}/api", SecretStr(KEY), http)
    releases = await client.search("Glass Orchard", "Mara Quill")
    assert len(releases) == 1
    assert indexer.requests[-1] == {"t": "search", "q": "Glass Orchard Mara Quill", "cat": "3030"}


async def test_no_results_is_an_empty_list(indexer: FakeTorznab, http: PoliteHttp) -> None:
    client = TorznabIndexer("sandbox", f"{indexer.base_url}/api", SecretStr(KEY), http)
    assert await client.search("Nothing Like This", None) == []


async def test_a_bad_key_is_an_indexer_error_that_hides_the_key(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    client = TorznabIndexer("sandbox", f"{indexer.base_url}/api", SecretStr("wrong-key-123"), http)
    with pytest.raises(IndexerError) as caught:
        await client.search("The Glass Orchard", None)
    assert caught.value.code == "100"
    assert "wrong-key-123" not in str(caught.value)


async def test_one_indexer_down_does_not_hide_the_other(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    working = TorznabIndexer("up", f"{indexer.base_url}/api", SecretStr(KEY), http)
    broken = TorznabIndexer("down", "http://127.0.0.1:9/api", SecretStr(KEY), http)
    outcome = await Indexers([working, broken]).search_all("The Glass Orchard", "Mara Quill")
    assert [r.indexer for r in outcome.releases] == ["up"]
    assert [name for name, _ in outcome.failures] == ["down"]
