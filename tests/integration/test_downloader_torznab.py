"""The Torznab client against the fake indexer, over loopback."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from sandbox.torrents import info_hash_of, make_torrent
from sandbox.torznab import FakeTorznab
from services.downloader.torznab import (
    IndexerError,
    IndexerResponseError,
    Indexers,
    TorznabIndexer,
)
from shared.faults import is_refused
from shared.http import HttpError, PoliteHttp
from tests.support.http import fast_http

KEY = "indexer-s3cret-key"
TITLE = "Mara Quill - The Glass Orchard [m4b]"


@pytest.fixture
async def http() -> AsyncIterator[PoliteHttp]:
    async with fast_http() as client:
        yield client


@pytest.fixture
async def indexer(tmp_path: Path) -> AsyncIterator[FakeTorznab]:
    content = tmp_path / TITLE
    content.mkdir()
    (content / "book.m4b").write_bytes(os.urandom(100_000))
    other = tmp_path / "other.mp3"
    other.write_bytes(os.urandom(50_000))
    async with FakeTorznab(KEY) as fake:
        fake.add_release(
            TITLE,
            make_torrent(content),
            seeders=4,
            leechers=2,
            freeleech=True,
            author="Mara Quill",
            booktitle="The Glass Orchard",
        )
        fake.add_release("Someone Else - Other Book [mp3]", make_torrent(other), seeders=9)
        fake.add_release(
            "Mara Quill - The Glass Orchard [epub]", make_torrent(other), category=7020
        )
        yield fake


def client(
    fake: FakeTorznab, http: PoliteHttp, key: str = KEY, name: str = "fake"
) -> TorznabIndexer:
    return TorznabIndexer(name, f"{fake.base_url}/api", SecretStr(key), http)


async def test_caps_say_what_the_indexer_can_search_by(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    caps = await client(indexer, http).caps()
    assert caps.supports("book-search", "title", "author")
    assert caps.supports("search", "q")
    assert not caps.supports("search", "title")
    assert caps.categories[3030] == "Audio/Audiobook"


async def test_a_book_search_finds_the_release_with_its_attributes(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    releases = await client(indexer, http).search("The Glass Orchard", "Mara Quill")
    assert [r.title for r in releases] == [TITLE]  # the e-book (category 7020) is not asked for
    release = releases[0]
    assert (release.seeders, release.leechers, release.peers) == (4, 2, 6)
    assert (release.author, release.booktitle) == ("Mara Quill", "The Glass Orchard")
    assert release.download_volume_factor == 0
    assert release.categories == (3030,)
    assert release.size_bytes == 100_000
    assert release.published is not None
    assert release.indexer == "fake"
    assert indexer.requests[-1] == {
        "t": "book",
        "title": "The Glass Orchard",
        "author": "Mara Quill",
        "cat": "3030",
    }
    assert KEY not in repr(release)


async def test_language_and_narrator_attributes_are_read(
    indexer: FakeTorznab, http: PoliteHttp, tmp_path: Path
) -> None:
    (tmp_path / "de.mp3").write_bytes(os.urandom(1000))
    indexer.add_release(
        "Mara Quill - Der Glasgarten [mp3]",
        make_torrent(tmp_path / "de.mp3"),
        language="German",
        narrators=("Quill, Mara", "Jon Sparrow & Ada Finch"),  # one per attribute, or a list
    )
    releases = await client(indexer, http).search("Mara Quill", None)
    found = {r.title: r for r in releases}
    german = found["Mara Quill - Der Glasgarten [mp3]"]
    assert german.language == "German"
    assert german.narrators == ("Quill, Mara", "Jon Sparrow", "Ada Finch")
    assert (found[TITLE].language, found[TITLE].narrators) == (None, ())  # none sent: none


async def test_the_downloaded_torrent_is_the_release_found(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    torznab = client(indexer, http)
    [release] = await torznab.search("The Glass Orchard", "Mara Quill")
    torrent = await torznab.fetch_torrent(release)
    assert info_hash_of(torrent) == release.info_hash == indexer.releases[0].info_hash


async def test_caps_are_asked_once_for_many_searches(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    torznab = client(indexer, http)
    await torznab.search("The Glass Orchard", None)
    await torznab.search("Other Book", None)
    assert [r["t"] for r in indexer.requests] == ["caps", "book", "book"]


async def test_without_book_search_the_query_is_free_text(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    indexer.book_search = False
    releases = await client(indexer, http).search("Glass Orchard", "Mara Quill")
    assert [r.title for r in releases] == [TITLE]
    assert indexer.requests[-1] == {"t": "search", "q": "Glass Orchard Mara Quill", "cat": "3030"}


async def test_no_results_is_an_empty_list(indexer: FakeTorznab, http: PoliteHttp) -> None:
    assert await client(indexer, http).search("Nothing Like This", None) == []


async def test_a_bad_key_is_an_indexer_error_that_hides_the_key(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    with pytest.raises(IndexerError) as caught:
        await client(indexer, http, key="wrong-key-123").search("The Glass Orchard", None)
    assert (caught.value.code, caught.value.description) == ("100", "Invalid API Key")
    assert "wrong-key-123" not in str(caught.value)
    assert is_refused(caught.value)  # a configuration error, never charged to a book


async def test_a_failed_download_does_not_show_the_key(http: PoliteHttp, tmp_path: Path) -> None:
    (tmp_path / "book.m4b").write_bytes(os.urandom(1000))
    # Jackett's links carry the key as `jackett_apikey`, which generic redaction misses.
    async with FakeTorznab(KEY, link_key_param="jackett_apikey") as jackett:
        jackett.add_release(TITLE, make_torrent(tmp_path / "book.m4b"))
        torznab = client(jackett, http)
        [release] = await torznab.search("The Glass Orchard", None)
        jackett.releases.clear()  # the indexer forgot it: 404
        with pytest.raises(HttpError) as caught:
            await torznab.fetch_torrent(release)
    assert "404" in str(caught.value)
    assert KEY not in str(caught.value)


async def test_items_without_a_link_are_skipped_with_a_warning(
    indexer: FakeTorznab, http: PoliteHttp, caplog: pytest.LogCaptureFixture
) -> None:
    indexer.raw_answer = (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        "<item><title>No link here</title></item>"
        "<item><title>Has a link</title><link>http://127.0.0.1:9/dl/1</link></item>"
        "<item><link>http://127.0.0.1:9/dl/2</link></item>"
        "</channel></rss>"
    )
    with caplog.at_level(logging.WARNING, logger="services.downloader.torznab"):
        releases = await client(indexer, http).search("anything", None)
    assert [(r.title, r.seeders, r.size_bytes) for r in releases] == [("Has a link", 0, None)]
    assert len([r for r in caplog.records if "skipped item" in r.getMessage()]) == 2


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>Bad gateway</body></html>",
        "this is not XML at all <",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><rss><channel/></rss>',
    ],
)
async def test_an_unusable_answer_is_an_indexer_response_error(
    indexer: FakeTorznab, http: PoliteHttp, body: str
) -> None:
    indexer.raw_answer = body
    with pytest.raises(IndexerResponseError):
        await client(indexer, http).search("The Glass Orchard", None)


async def test_one_indexer_down_does_not_hide_the_other(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    working = client(indexer, http, name="up")
    unreachable = TorznabIndexer("down", "http://127.0.0.1:9/api", SecretStr(KEY), http)
    refusing = client(indexer, http, key="wrong-key-123", name="refusing")
    outcome = await Indexers([working, unreachable, refusing]).search_all(
        "The Glass Orchard", "Mara Quill"
    )
    assert [(r.indexer, r.title) for r in outcome.releases] == [("up", TITLE)]
    failures = dict(outcome.failures)
    assert set(failures) == {"down", "refusing"}
    assert isinstance(failures["down"], HttpError)
    assert isinstance(failures["refusing"], IndexerError)
    assert not any(KEY in str(error) for error in failures.values())


async def test_an_indexer_that_refused_our_key_is_reported_once_and_not_asked_again(
    indexer: FakeTorznab, http: PoliteHttp
) -> None:
    reported: list[str] = []

    async def refused(name: str, error: Exception) -> None:
        reported.append(name)

    working = client(indexer, http, name="up")
    refusing = client(indexer, http, key="wrong-key-123", name="refusing")
    both = Indexers([working, refusing], on_refused=refused)
    for _ in range(3):
        outcome = await both.search_all("The Glass Orchard", "Mara Quill")
        assert [r.indexer for r in outcome.releases] == ["up"]
        assert [name for name, _ in outcome.failures] == ["refusing"]
    assert reported == ["refusing"]
    # The working one: its caps once, three searches; the refusing one: its caps, once.
    assert sorted(str(r.get("t")) for r in indexer.requests) == ["book"] * 3 + ["caps"] * 2
