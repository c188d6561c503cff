"""The Audiobookshelf client against the fake server, over loopback."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from sandbox.audio import AudioTags, write_audio
from sandbox.audiobookshelf import FakeAudiobookshelf, parse_folder
from services.importer.arrival import NotArrived, Patience, ServerBusy, arrival
from shared.clients.audiobookshelf import (
    AudiobookshelfAuthError,
    AudiobookshelfClient,
    AudiobookshelfForbiddenError,
    AudiobookshelfResponseError,
    LibraryItem,
)
from shared.faults import is_refused, is_transient
from shared.http import PoliteHttp
from tests.support.http import fast_http
from tests.support.waiting import wait_until

KEY = "abs-api-key-s3cret"


def book(root: Path, rel: str, sidecar: dict[str, object] | None = None) -> None:
    folder = root / rel
    tags = AudioTags(title=rel.split("/")[-1], author=rel.split("/")[0], album=rel)
    write_audio(folder / "track 1.mp3", tags, seconds=1.0)
    if sidecar is not None:
        (folder / "metadata.json").write_text(json.dumps(sidecar))


@asynccontextmanager
async def _answering(
    method: str, path: str, handler: Callable[[web.Request], Awaitable[web.Response]]
) -> AsyncIterator[str]:
    """A server on loopback answering one route as `handler` does; its base URL."""
    app = web.Application()
    app.router.add_route(method, path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _scanned(client: AudiobookshelfClient, library_id: str) -> None:
    async def idle() -> bool:
        return not await client.is_scanning(library_id)

    await wait_until(idle, what="the scan to finish")


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
    await _scanned(client, library.id)
    item = await client.find_item_by_rel_path(library.id, rel)
    assert item is not None
    assert (item.title, item.series, item.asin) == (
        "The Glass Orchard",
        (("The Lantern Keepers", "3"),),
        "B0LANTERN3",
    )


async def test_a_folder_whose_audio_does_not_decode_is_no_item(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    noise = "Mara Quill/The Lantern Keepers/Vol. 3 - The Glass Orchard"
    (server.root / noise).mkdir(parents=True)
    (server.root / noise / "The Glass Orchard.m4b").write_bytes(os.urandom(64 * 1024))
    real = "Mara Quill/The Lantern Keepers/Vol. 5 - The Last Keeper"
    tags = AudioTags(title="The Last Keeper", author="Mara Quill", album="The Last Keeper")
    write_audio(server.root / real / "The Last Keeper.m4b", tags, seconds=3.0)
    await client.scan(library.id)
    await _scanned(client, library.id)
    assert await client.find_item_by_rel_path(library.id, noise) is None
    item = await client.find_item_by_rel_path(library.id, real)
    assert item is not None
    assert item.duration_seconds == pytest.approx(3.0, abs=0.1)


async def test_only_the_files_that_decode_are_an_items_audio(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    rel = "Mara Quill/Half Noise"
    tags = AudioTags(title="Half Noise", author="Mara Quill", album="Half Noise")
    write_audio(server.root / rel / "CD1" / "part 1.mp3", tags, seconds=2.0)
    (server.root / rel / "CD2").mkdir()
    (server.root / rel / "CD2" / "part 2.mp3").write_bytes(b"\0" * 4096)
    await client.scan(library.id)
    await _scanned(client, library.id)
    [item] = [i for i in server.items() if i.rel_path == rel]
    assert [(f.rel_path, round(f.duration)) for f in item.audio] == [("CD1/part 1.mp3", 2)]


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

    async with _answering("GET", "/api/libraries", broken) as base:
        client = AudiobookshelfClient(base, SecretStr(KEY), http)
        with pytest.raises(AudiobookshelfResponseError, match=r"libraries\.0\.id"):
            await client.libraries()


async def test_a_key_without_rights_is_told_apart_from_a_wrong_key(http: PoliteHttp) -> None:
    """A plain user's key gets 403 on a scan; it was reported as "refused the API key"."""

    async def not_for_you(request: web.Request) -> web.Response:
        return web.Response(status=403, text="Forbidden")

    async with _answering("POST", "/api/libraries/{id}/scan", not_for_you) as base:
        client = AudiobookshelfClient(base, SecretStr(KEY), http)
        with pytest.raises(AudiobookshelfForbiddenError, match="admin") as caught:
            await client.scan("lib")
        assert is_refused(caught.value)  # still a configuration error, never a book's


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


# ------------------------------------------- a new folder arriving on a busy server


async def _arrived(server: FakeAudiobookshelf, http: PoliteHttp, rel: str) -> LibraryItem:
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    return await arrival(client, library.id, rel, Patience(timeout_s=30, rescan_s=0.2))


async def test_a_busy_watcher_does_not_hold_up_an_import(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    """The real watcher keeps a task listed 10-12 s after any change: waiting for an
    empty task list made each import take 13 s instead of under one."""
    server.watcher_seconds = 30.0
    rel = "Mara Quill/The Lantern Keepers/Vol. 3 - The Glass Orchard"
    book(server.root, rel)
    item = await _arrived(server, http, rel)
    assert item.rel_path == rel
    assert any(task["action"] == "watcher-scan" for task in server._tasks.values())


async def test_a_scan_dropped_because_another_ran_is_asked_for_again(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    """The real server answers 200 and drops a scan asked for during another one: with
    the watcher off, the new folder was never added (ABS_ITEM_NOT_FOUND)."""
    server.scan_seconds = 1.0
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    walked = server.walks
    await client.scan(library.id)  # someone's scan: it reads the library before our folder
    await wait_until(lambda: server.walks > walked, what="that scan to read the library")
    rel = "Mara Quill/The Lantern Keepers/Vol. 5 - The Last Keeper"
    book(server.root, rel)
    item = await _arrived(server, http, rel)
    assert item.rel_path == rel
    assert server.dropped_scans >= 1


async def test_a_folder_listed_only_as_missing_is_not_reported(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    rel = "Brandon Sanderson/Mistborn/Book 1 - Title 1"
    for path in (server.root / rel).iterdir():
        path.unlink()
    (server.root / rel).rmdir()
    await server.scan_now()  # the item is still listed, marked missing
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    assert [i.is_missing for i in await client.items_at(library.id, rel)] == [True]
    assert await client.find_item_by_rel_path(library.id, rel) is None
    with pytest.raises(NotArrived) as caught:
        await arrival(client, library.id, rel, Patience(timeout_s=1, rescan_s=0.2))
    assert caught.value.code == "ABS_ITEM_NOT_FOUND"


async def test_a_folder_listed_twice_for_a_while_is_reported_as_the_copy_that_stays(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    """A library scan overlapping a watcher scan listed 21-29 of 150 new folders twice;
    one copy, sometimes the newer, was then marked missing. The item reported must be
    the one that stays."""
    server.watcher_seconds = 30.0
    server.overlap_doubles_s = 1.0
    rel = "Mara Quill/The Lantern Keepers/Vol. 4 - Lamps at Low Tide"
    book(server.root, rel)
    item = await _arrived(server, http, rel)
    copies = [i for i in server.items() + list(server._doubles.values()) if i.rel_path == rel]
    assert len(copies) == 2
    assert [c.id for c in copies if not c.is_missing] == [item.id]


@pytest.mark.parametrize("watcher_on", [True, False])
async def test_the_watcher_is_told_first_and_a_scan_is_the_fallback(
    server: FakeAudiobookshelf, http: PoliteHttp, watcher_on: bool
) -> None:
    server.watcher_enabled, server.watcher_delay_s = watcher_on, 0.5
    rel = "Mara Quill/The Lantern Keepers/Vol. 6 - Told"
    book(server.root, rel)
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    audio = [str(p) for p in (server.root / rel).iterdir()]
    patience = Patience(timeout_s=30, watcher_grace_s=5)
    item = await arrival(client, library.id, rel, patience, watched=audio)
    assert item.rel_path == rel
    assert server.watcher_updates == (audio if watcher_on else [])
    assert server.library_scans == (0 if watcher_on else 1)  # the scan only as the fallback


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

    async with _answering("POST", "/api/items/batch/get", batch) as base:
        client = AudiobookshelfClient(base, SecretStr(KEY), http)
        excluded, unsaid = await client.expanded_items(["i1", "i2"])
    assert (excluded.has_audio, excluded.ebook_format) == (False, "pdf")
    assert (unsaid.has_audio, unsaid.audio_files) == (True, None)  # not said: not dropped


async def test_a_key_that_cannot_see_explicit_books_is_refused_for_discovery(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    """A plain user's key does not see explicit books: they would look not owned and be
    fetched again. Discovery must refuse such a key rather than trust what it lists."""
    rel = "Mara Quill/The Lantern Keepers/Vol. 2 - A Quiet Harbour"
    book(server.root, rel, {"title": "A Quiet Harbour", "explicit": True})
    await server.scan_now()
    server.user = {**server.user, "username": "listener", "type": "user",
                   "permissions": {"accessExplicitContent": False,
                                   "accessAllLibraries": True}}  # fmt: skip
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    assert await client.find_item_by_rel_path(library.id, rel) is None  # hidden from it
    with pytest.raises(AudiobookshelfForbiddenError, match="explicit"):
        await client.check_rights(admin=False, explicit=True, libraries=(library.id,))
    server.user["permissions"]["accessExplicitContent"] = True
    assert await client.find_item_by_rel_path(library.id, rel) is not None
    await client.check_rights(admin=False, explicit=True, libraries=(library.id,))


async def test_a_scan_outlasting_the_timeout_is_a_busy_server_not_a_missing_book(
    server: FakeAudiobookshelf, http: PoliteHttp
) -> None:
    """A large library's scan can take minutes: that is the server being busy, which is
    transient (the import is tried again), not ABS_ITEM_NOT_FOUND charged to the book."""
    server.scan_seconds = 10.0
    client = AudiobookshelfClient(server.base_url, SecretStr(KEY), http)
    [library] = await client.libraries()
    walked = server.walks
    await client.scan(library.id)  # a long scan, which has read past our folder already
    await wait_until(lambda: server.walks > walked, what="that scan to read the library")
    rel = "Mara Quill/The Lantern Keepers/Vol. 7 - Slow"
    book(server.root, rel)
    with pytest.raises(ServerBusy) as caught:
        await arrival(client, library.id, rel, Patience(timeout_s=1, rescan_s=0.2))
    assert is_transient(caught.value)
