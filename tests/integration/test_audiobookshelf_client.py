"""The Audiobookshelf client against the fake server, over loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from sandbox.audiobookshelf import FakeAudiobookshelf, parse_folder
from shared.clients.audiobookshelf import (
    AudiobookshelfAuthError,
    AudiobookshelfClient,
    AudiobookshelfResponseError,
)
from shared.http import PoliteHttp
from tests.support.http import fast_http

KEY = "abs-api-key-s3cret"


def book(root: Path, rel: str, sidecar: dict[str, object] | None = None) -> None:
    folder = root / rel
    folder.mkdir(parents=True)
    (folder / "track 1.mp3").write_bytes(b"\0" * 100)
    if sidecar is not None:
        (folder / "metadata.json").write_text(json.dumps(sidecar))


@pytest.fixture
async def http() -> AsyncIterator[PoliteHttp]:
    async with fast_http() as client:
        yield client


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[FakeAudiobookshelf]:
    for n in range(1, 8):
        book(tmp_path, f"Brandon Sanderson/Mistborn/Book {n} - Title {n}")
    book(tmp_path, "Ursula K. Le Guin/A Wizard of Earthsea [B0EARTHSEA]")
    async with FakeAudiobookshelf(tmp_path, KEY) as fake:
        await fake.scan_now()
        yield fake


async def test_the_whole_library_is_read_page_by_page_and_expanded(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    short = [item async for item in client.library_items(library.id, page_size=3)]
    assert len(short) == 8
    books = {b.title: b for b in await client.all_books(library.id)}
    assert books["Title 4"].series == (("Mistborn", "4"),)
    assert books["Title 4"].authors == ("Brandon Sanderson",)
    assert books["A Wizard of Earthsea"].asin == "B0EARTHSEA"
    assert books["A Wizard of Earthsea"].series == ()


async def test_a_scan_finds_a_new_folder_with_its_sidecar(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    rel = "Mara Quill/The Lantern Keepers/Vol. 3 - The Glass Orchard"
    sidecar: dict[str, object] = {
        "title": "The Glass Orchard",
        "authors": ["Mara Quill"],
        "series": ["The Lantern Keepers #3"],
        "asin": "B0LANTERN3",
    }
    book(server.root, rel, sidecar)
    assert await client.find_item_by_rel_path(library.id, rel) is None
    await client.scan(library.id)
    await client.wait_for_scan(library.id, timeout_s=10)
    item = await client.find_item_by_rel_path(library.id, rel)
    assert item is not None
    assert (item.title, item.series, item.asin) == (
        "The Glass Orchard",
        (("The Lantern Keepers", "3"),),
        "B0LANTERN3",
    )


async def test_a_refused_key_is_an_auth_error_without_the_key(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    client = AudiobookshelfClient(server.base_url, SecretStr("not-the-key-42"), http)
    with pytest.raises(AudiobookshelfAuthError) as caught:
        await client.libraries()
    assert "not-the-key-42" not in str(caught.value)


async def test_a_malformed_answer_is_a_clear_response_error(http: PoliteHttp) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.json_response({"libraries": [{"name": "no id"}]})

    app = web.Application()
    app.router.add_get("/api/libraries", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        client = AudiobookshelfClient(
            f"http://127.0.0.1:{runner.addresses[0][1]}", SecretStr(KEY), http
        )
        with pytest.raises(AudiobookshelfResponseError, match=r"libraries\.0\.id"):
            await client.libraries()
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("rel", "title", "series"),
    [
        ("A/S/Vol. 3 - T", "T", [("S", "3")]),
        ("A/S/Book 2 - T", "T", [("S", "2")]),
        ("A/S/0.5 - Novella", "Novella", [("S", "0.5")]),
        ("A/S/6. Six", "Six", [("S", "6")]),
        ("A/1984 - Nineteen", "Nineteen", []),
        ("A/T", "T", []),
    ],
)
def test_folder_names_are_parsed_as_audiobookshelf_does(
    rel: str, title: str, series: list[tuple[str, str]]
) -> None:
    facts = parse_folder(rel)
    assert (facts["title"], facts["series"]) == (title, series)


async def test_an_epub_alone_is_an_item_without_audio_files(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    # As a real book library lists it: an item, with an ebook file and no audio.
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    ebook = server.root / "Mara Quill/The Lantern Keepers/The Last Keeper"
    ebook.mkdir(parents=True)
    (ebook / "The Last Keeper.epub").write_bytes(b"\0" * 100)
    book(server.root, "Mara Quill/The Lantern Keepers/Vol. 1 - The Salt Road")
    (server.root / "Mara Quill/The Lantern Keepers/Vol. 1 - The Salt Road/book.epub").write_bytes(
        b"\0" * 100
    )
    await server.scan_now()
    short = {i.rel_path: i async for i in client.library_items(library.id)}
    raw = await http.get_json(
        f"{server.base_url}/api/libraries/{library.id}/items",
        params={"limit": "0"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    media = {r["media"]["metadata"]["title"]: r["media"] for r in raw["results"]}
    assert (media["The Last Keeper"]["numAudioFiles"], media["The Last Keeper"]["ebookFormat"]) == (
        0,
        "epub",
    )
    assert "ebookFormat" not in media["Title 1"]  # no ebook: the key is left out
    books = {b.title: b for b in await client.expanded_items([i.id for i in short.values()])}
    epub, both, audio = books["The Last Keeper"], books["The Salt Road"], books["Title 1"]
    assert (epub.has_audio, epub.audio_files, epub.ebook_format) == (False, 0, "epub")
    assert epub.series == (("The Lantern Keepers", None),)
    assert (both.has_audio, both.audio_files, both.ebook_format) == (True, 1, "epub")
    assert (audio.has_audio, audio.audio_files, audio.ebook_format) == (True, 1, None)


async def test_excluded_audio_files_do_not_make_an_audiobook(http: PoliteHttp) -> None:
    item = {
        "id": "i1", "libraryId": "l1",
        "media": {"audioFiles": [{"exclude": True}], "ebookFile": {"ebookFormat": "pdf"}},
    }  # fmt: skip

    async def batch(request: web.Request) -> web.Response:
        return web.json_response({"libraryItems": [item, {"id": "i2", "libraryId": "l1"}]})

    app = web.Application()
    app.router.add_post("/api/items/batch/get", batch)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        client = AudiobookshelfClient(
            f"http://127.0.0.1:{runner.addresses[0][1]}", SecretStr(KEY), http
        )
        excluded, unsaid = await client.expanded_items(["i1", "i2"])
    finally:
        await runner.cleanup()
    assert (excluded.has_audio, excluded.ebook_format) == (False, "pdf")
    assert (unsaid.has_audio, unsaid.audio_files) == (True, None)  # not said: not dropped
