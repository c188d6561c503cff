"""The torrent client against two real qbittorrent-nox: one seeds, one downloads, and
they find each other through the sandbox's tracker."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from devstack.qbittorrent import QbitInstance, start_qbittorrent, stop_all
from sandbox.torrents import make_torrent
from sandbox.tracker import Tracker
from services.downloader.torrent_client import (
    QbittorrentClient,
    TorrentClientAuthError,
    TorrentClientUnavailableError,
    TorrentRejectedError,
    info_hash,
)
from shared.metrics import host_of
from tests.support.waiting import wait_until


def _client(instance: QbitInstance) -> QbittorrentClient:
    return QbittorrentClient(instance.webui_url, instance.username, instance.password)


@pytest.fixture(scope="module")
async def pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[QbitInstance, QbitInstance]]:
    state = tmp_path_factory.mktemp("qbit")
    try:
        yield start_qbittorrent(state, "seeder"), start_qbittorrent(state, "leecher")
    finally:
        stop_all(state)


@pytest.fixture(scope="module")
async def tracker() -> AsyncIterator[Tracker]:
    async with Tracker() as running:
        yield running


async def test_a_torrent_travels_from_the_seeder_to_the_leecher(
    pair: tuple[QbitInstance, QbitInstance], tracker: Tracker, tmp_path: Path
) -> None:
    seeder, leecher = pair
    content = tmp_path / "Some Author - Some Book [m4b]"
    content.mkdir()
    originals = {"part 1.m4b": os.urandom(3 * 1024 * 1024), "cover.jpg": os.urandom(20_000)}
    for name, data in originals.items():
        (content / name).write_bytes(data)
    torrent = make_torrent(content, tracker.announce_url)

    await _client(seeder).add(
        torrent, category="seed", tag="sandbox", save_path=str(tmp_path), skip_checking=True
    )
    client = _client(leecher)
    added = await client.add(torrent, category="abauto", tag="job-1")
    assert added == info_hash(torrent)

    async def complete() -> bool:
        status = await client.status(added)
        return status is not None and status.is_complete

    await wait_until(complete, within=60, interval=0.25, what="the leecher to complete")
    status = await client.status(added)
    assert status is not None
    assert (status.category, status.tags) == ("abauto", ("job-1",))
    assert sorted(await client.files(added)) == sorted(f"{content.name}/{n}" for n in originals)
    for name, data in originals.items():
        assert (Path(status.content_path) / name).read_bytes() == data
    assert [t.hash for t in await client.by_tag("job-1")] == [added]
    assert await client.add(torrent, category="abauto", tag="job-1") == added  # idempotent


async def test_garbage_is_rejected(pair: tuple[QbitInstance, QbitInstance]) -> None:
    with pytest.raises(TorrentRejectedError):
        await _client(pair[1]).add(b"not a torrent", category="abauto", tag="x")


async def test_a_wrong_password_is_an_auth_error_that_hides_it(
    pair: tuple[QbitInstance, QbitInstance],
) -> None:
    leecher = pair[1]
    client = QbittorrentClient(leecher.webui_url, leecher.username, SecretStr("wrong-s3cret"))
    with pytest.raises(TorrentClientAuthError) as caught:
        await client.version()
    assert "wrong-s3cret" not in str(caught.value)


async def test_a_refused_password_is_tried_once_so_qbittorrent_never_bans_the_address(
    pair: tuple[QbitInstance, QbitInstance],
) -> None:
    """qBittorrent bans an address after 5 failed logins; then the right password is
    refused too. A client whose login was refused sends nothing more."""
    seeder = pair[0]
    wrong = QbittorrentClient(seeder.webui_url, seeder.username, SecretStr("not-the-one"))
    for _ in range(8):
        with pytest.raises(TorrentClientAuthError):
            await wrong.by_tag("abauto-anything")
    assert (await _client(seeder).version()).startswith("v")  # not banned


def _calls(host: str, method: str, outcome: str) -> float:
    labels = {"host": host, "method": method, "outcome": outcome}
    return REGISTRY.get_sample_value("abauto_external_request_duration_seconds_count", labels) or 0


def _errors(host: str, kind: str) -> float:
    labels = {"host": host, "kind": kind}
    return REGISTRY.get_sample_value("abauto_external_request_errors_total", labels) or 0


async def test_each_call_is_counted_by_host_and_web_api_call_and_a_refused_login_once(
    pair: tuple[QbitInstance, QbitInstance],
) -> None:
    leecher = pair[1]
    host = host_of(leecher.webui_url)
    ok, refused = _calls(host, "app/version", "ok"), _errors(host, "refused")
    await _client(leecher).version()
    assert _calls(host, "app/version", "ok") == ok + 1

    wrong = QbittorrentClient(leecher.webui_url, leecher.username, SecretStr("wrong-s3cret"))
    for _ in range(3):
        with pytest.raises(TorrentClientAuthError):
            await wrong.version()
    assert _errors(host, "refused") == refused + 1  # asked once, then nothing is sent


async def test_a_qbittorrent_that_does_not_answer_in_time_is_counted_as_a_timeout() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        before = _errors(host_of(url), "timeout")
        client = QbittorrentClient(url, "admin", SecretStr("whatever"), timeout_s=0.2)
        with pytest.raises(TorrentClientUnavailableError):
            await client.version()
    assert _errors(host_of(url), "timeout") == before + 1
