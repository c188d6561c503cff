"""The MyAnonamouse indexer against the fake site, over loopback."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import SecretStr

from sandbox.mam import SEEDBOX_PATH, FakeMam
from sandbox.torrents import info_hash_of, make_torrent
from sandbox.torznab import FakeTorznab
from services.downloader.mam import MamCookieRefusedError, MamIndexer, mam_http_settings
from services.downloader.mam_cookie import MamCookie
from services.downloader.mam_economy import WedgePolicy
from services.downloader.mam_seedbox import SeedboxClock, update_seedbox
from services.downloader.torznab import Indexers, TorznabIndexer
from shared.events import utc_now
from shared.faults import is_refused
from shared.http import PoliteHttp
from tests.support.http import fast_http

COOKIE = "configured-mam-session"
TITLE = "The Glass Orchard"


@pytest.fixture
async def http() -> AsyncIterator[PoliteHttp]:
    async with fast_http() as client:
        yield client


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[FakeMam]:
    book = tmp_path / TITLE
    book.mkdir()
    (book / "book.m4b").write_bytes(os.urandom(60_000))
    other = tmp_path / "other.mp3"
    other.write_bytes(os.urandom(30_000))
    async with FakeMam(COOKIE) as fake:
        fake.add_release(
            TITLE,
            make_torrent(book),
            author="Mara O'Quill",
            narrators=("Kate Reading & Co",),
            series="Orchard <Cycle>",
            filetype="m4b mp3",
            free=True,
        )
        fake.add_release("The Glass Orchard (paid)", make_torrent(other), author="Mara O'Quill")
        yield fake


def mam(
    site: FakeMam, http: PoliteHttp, cookie: str = COOKIE, file: Path | None = None, **kw: object
) -> MamIndexer:
    return MamIndexer("mam", site.base_url, MamCookie(SecretStr(cookie), file), http, **kw)  # type: ignore[arg-type]


async def test_search_reads_the_sites_rows_and_fetches_the_real_torrent(
    site: FakeMam, http: PoliteHttp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    indexer = mam(site, http)
    releases = {r.title: r for r in await indexer.search(TITLE, "Mara O'Quill")}
    free = releases[TITLE]
    assert (free.author, free.narrators) == ("Mara O'Quill", ("Kate Reading & Co",))
    assert (free.formats, free.language, free.download_volume_factor) == (("m4b", "mp3"), "ENG", 0)
    assert releases["The Glass Orchard (paid)"].download_volume_factor == 1
    torrent = await indexer.fetch_torrent(free)
    assert info_hash_of(torrent) == info_hash_of(site.torrents[0].torrent)
    [body] = site.search_bodies
    assert body["tor"]["main_cat"] == [13]
    assert body["tor"]["srchIn"] == ["title", "author", "narrator", "series"]
    assert (body["perpage"], "dlLink" in body) == (100, True)
    assert COOKIE not in caplog.text
    assert site.torrents[0].dl not in caplog.text + repr(free)


async def test_nothing_returned_is_no_release(site: FakeMam, http: PoliteHttp) -> None:
    assert await mam(site, http).search("Nonexistent Book", None) == []


async def test_the_ratio_guard_returns_only_free_releases(site: FakeMam, http: PoliteHttp) -> None:
    releases = await mam(site, http, ratio_guard=True).search(TITLE, None)
    assert [r.title for r in releases] == [TITLE]


async def test_a_rotated_cookie_is_persisted_and_used_after_a_restart(
    site: FakeMam, http: PoliteHttp, tmp_path: Path
) -> None:
    site.rotate_every, site.grace_s = 1, 0.0  # the old cookie dies as the new one arrives
    file = tmp_path / "mam_cookie.json"
    await mam(site, http, file=file).search(TITLE, None)
    assert site.newest_cookie != COOKIE
    assert site.newest_cookie in file.read_text()

    with pytest.raises(MamCookieRefusedError):  # the configured value alone is dead now
        await mam(site, http).search(TITLE, None)
    site.rotate_every = 0
    restarted = mam(site, http, file=file)
    assert [r.title for r in await restarted.search(TITLE, None)][:1] == [TITLE]


async def test_the_previous_cookie_keeps_working_for_a_while(
    site: FakeMam, http: PoliteHttp
) -> None:
    site.rotate_every, site.grace_s = 1, 300.0
    await mam(site, http).search(TITLE, None)
    assert await mam(site, http).search(TITLE, None)  # the configured value, still in grace


@pytest.mark.parametrize("how", ["403", "html"])
async def test_an_expired_cookie_is_a_refusal_until_a_new_one_is_configured(
    site: FakeMam, http: PoliteHttp, tmp_path: Path, how: str
) -> None:
    file = tmp_path / "mam_cookie.json"
    indexer = mam(site, http, file=file)
    [release, *_] = await indexer.search(TITLE, None)
    site.expire("403" if how == "403" else "html")
    with pytest.raises(MamCookieRefusedError) as searching:
        await indexer.search(TITLE, None)
    with pytest.raises(MamCookieRefusedError) as fetching:
        await indexer.fetch_torrent(release)
    assert is_refused(searching.value)
    assert is_refused(fetching.value)
    assert "configure a fresh one" in str(searching.value)

    fresh = site.new_session()  # the operator puts a new cookie in and restarts
    assert await mam(site, http, cookie=fresh, file=file).search(TITLE, None)


async def test_a_refusing_mam_does_not_hide_a_torznab_indexer(
    site: FakeMam, http: PoliteHttp, tmp_path: Path
) -> None:
    (tmp_path / "t.mp3").write_bytes(os.urandom(10_000))
    async with FakeTorznab("key") as torznab:
        torznab.add_release(f"Mara - {TITLE} [mp3]", make_torrent(tmp_path / "t.mp3"))
        both = Indexers(
            [
                mam(site, http),
                TorznabIndexer("t", f"{torznab.base_url}/api", SecretStr("key"), http),
            ]
        )
        assert {r.indexer for r in (await both.search_all(TITLE, None)).releases} == {"mam", "t"}
        site.expire()
        outcome = await both.search_all(TITLE, None)
    assert {r.indexer for r in outcome.releases} == {"t"}
    assert [(name, is_refused(error)) for name, error in outcome.failures] == [("mam", True)]


async def test_searches_are_spaced_and_a_429_burst_is_waited_out(site: FakeMam) -> None:
    interval = 0.3
    politeness = {urlsplit(site.base_url).netloc: mam_http_settings(interval)}
    site.busy, site.retry_after = 2, "0.1"
    async with PoliteHttp(per_host=politeness) as http:
        indexer = mam(site, http)
        assert await indexer.search(TITLE, None)  # after two 429s
        await indexer.search("Nonexistent", None)
    times = site.search_times
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(gaps) == 3
    assert min(gaps) >= interval * 0.95, gaps  # the limiter's clock and the server's differ


async def test_a_wedge_is_spent_on_a_paid_release_only_within_the_cap(
    site: FakeMam, http: PoliteHttp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    indexer = mam(site, http, wedges=WedgePolicy(above_mb=0, per_day=1))
    releases = {r.title: r for r in await indexer.search(TITLE, None)}
    await indexer.fetch_torrent(releases[TITLE])  # already free: no wedge
    assert site.wedges == []
    paid = releases["The Glass Orchard (paid)"]
    await indexer.fetch_torrent(paid)
    assert site.wedges == [site.torrents[1].id]
    assert "freeleech wedge for" in caplog.text
    # What the download's record carries (downloads.selection): the wedge was spent.
    assert Indexers([indexer]).fetched_with(paid)["wedge"] == "spent"
    assert Indexers([indexer]).fetched_with(releases[TITLE]) == {}
    assert Indexers([indexer]).keeps_unfinished(indexer.name)
    await indexer.fetch_torrent(paid)  # today's one wedge is spent
    assert site.wedges == [site.torrents[1].id]
    again = {r.title: r for r in await indexer.search(TITLE, None)}
    assert again["The Glass Orchard (paid)"].freeleech  # the site says so now


async def test_the_dynamic_seedbox_is_asked_once_an_hour_across_restarts(
    site: FakeMam, http: PoliteHttp, tmp_path: Path
) -> None:
    url = f"{site.base_url}{SEEDBOX_PATH}"
    clock_file = tmp_path / "state" / "cookie.json.seedbox"
    now = utc_now()
    first = await update_seedbox(mam(site, http), url, SeedboxClock(clock_file), now)
    assert first == "updated (Completed)"
    assert oct(clock_file.stat().st_mode & 0o777) == "0o600"
    # A restart ten minutes later: the file says the hour is not over, the site is spared.
    later = await update_seedbox(
        mam(site, http), url, SeedboxClock(clock_file), now + timedelta(minutes=10)
    )
    assert later.startswith("not asked")
    assert len(site.seedbox_calls) == 1
    # Past our hour, but the site says its own hour is not (a change made elsewhere).
    refused = await update_seedbox(
        mam(site, http), url, SeedboxClock(clock_file), now + timedelta(minutes=61)
    )
    assert refused.startswith("refused by the site")
