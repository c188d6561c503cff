"""A pursuit with in-memory fakes: what is not the book's fault is never charged to it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from services.downloader.attempt import Attempt, AttemptFailed, Timing
from services.downloader.pursuit import Budget, Pursuits
from services.downloader.release_selection import SelectionRules
from services.downloader.torrent_client import (
    TorrentClientAuthError,
    TorrentClientUnavailableError,
    TorrentStatus,
)
from shared import events as ev
from shared.conditions import Conditions
from tests.support.fakes import FakePublisher
from tests.support.waiting import wait_until

BOOK = ev.BookRef(title="Project Hail Mary", author="Andy Weir", asin="B08G9PRS1K")


class ScriptedAttempts:
    """Each run raises the next scripted error, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.runs = 0

    async def run(
        self, book: ev.BookRef, max_retries: int, correlation: Any
    ) -> ev.DownloadCompletedPayload:
        self.runs += 1
        if self.errors:
            raise self.errors.pop(0)
        return ev.DownloadCompletedPayload(
            book=book, info_hash="ab" * 20, content_path="/downloads/phm", files=["phm.m4b"]
        )


def _pursuits(
    attempts: ScriptedAttempts,
    published: FakePublisher,
    stop: asyncio.Event,
    conditions: Conditions,
) -> Pursuits:
    budget = Budget(3, timedelta(0), timedelta(0))
    return Pursuits(attempts, published, budget, 2, stop, conditions, outage_backoff=(0.01, 0.05))


async def test_qbittorrent_away_makes_the_attempt_wait_and_resume_uncharged() -> None:
    published, stop, conditions = FakePublisher(), asyncio.Event(), Conditions()
    away = TorrentClientUnavailableError("qBittorrent unreachable: ConnectionError")
    attempts = ScriptedAttempts(away, away, away)
    pursuits = _pursuits(attempts, published, stop, conditions)
    pursuits.start(BOOK)
    await pursuits.wait_idle()
    assert attempts.runs == 4
    assert published.of(ev.DownloadFailed) == []
    assert published.of(ev.FailureRecorded) == []
    assert len(published.of(ev.DownloadCompleted)) == 1
    assert conditions.ready  # it was not while qBittorrent was away; now it is again


async def test_a_refused_password_parks_the_pursuit_and_is_never_charged_to_the_book() -> None:
    published, stop, conditions = FakePublisher(), asyncio.Event(), Conditions()
    attempts = ScriptedAttempts(TorrentClientAuthError("qBittorrent refused the login"))
    pursuits = _pursuits(attempts, published, stop, conditions)
    pursuits.start(BOOK)
    await wait_until(lambda: bool(conditions.refused), what="the refusal to be reported")
    assert pursuits.is_pursuing(BOOK)  # parked, not abandoned
    stop.set()
    await pursuits.wait_idle()
    assert attempts.runs == 1
    assert published.of(ev.DownloadFailed) == []
    assert published.of(ev.DownloadAbandoned) == []


async def test_an_unexpected_error_is_recorded_and_bounded_not_a_silent_stall() -> None:
    published, stop, conditions = FakePublisher(), asyncio.Event(), Conditions()
    attempts = ScriptedAttempts(*[KeyError("a bug")] * 4)
    pursuits = _pursuits(attempts, published, stop, conditions)
    pursuits.start(BOOK)
    await pursuits.wait_idle()
    failed = published.of(ev.DownloadFailed)
    assert [f.payload.error_code for f in failed] == ["INTERNAL_ERROR"] * 3
    assert len(published.of(ev.DownloadAbandoned)) == 1


async def test_a_failure_of_the_book_is_still_charged_and_retried() -> None:
    published, stop, conditions = FakePublisher(), asyncio.Event(), Conditions()
    attempts = ScriptedAttempts(AttemptFailed("NO_RELEASE", "nothing matched"))
    pursuits = _pursuits(attempts, published, stop, conditions)
    pursuits.start(BOOK)
    await pursuits.wait_idle()
    assert [f.payload.error_code for f in published.of(ev.DownloadFailed)] == ["NO_RELEASE"]
    assert len(published.of(ev.DownloadCompleted)) == 1


async def test_every_indexer_refusing_its_key_is_a_configuration_error_not_no_release() -> None:
    from services.downloader.attempt import _raise_if_no_indexer_could_answer
    from services.downloader.torznab import IndexerAuthError, IndexerError
    from shared.faults import CredentialsRefused, Unavailable
    from shared.http import HttpBusyError

    refused = IndexerAuthError("a", "100", "Invalid API Key")
    busy = HttpBusyError(503, "http://b/api", "busy")
    with pytest.raises(CredentialsRefused, match="every indexer refused"):
        _raise_if_no_indexer_could_answer([refused, refused])
    with pytest.raises(Unavailable, match="away or refusing"):
        _raise_if_no_indexer_could_answer([refused, busy])
    _raise_if_no_indexer_could_answer([refused, IndexerError("c", "201", "bad parameter")])


class AwayThenBack:
    """qBittorrent's status calls: the same bytes, then away for `away_s`, then done."""

    def __init__(self, away_s: float) -> None:
        self.away_s = away_s
        self.calls = 0
        self.away_from: float | None = None
        self.back = 0

    async def status(self, info_hash: str) -> TorrentStatus:
        import time

        self.calls += 1
        if self.calls == 1:
            return _status("downloading", 100)
        self.away_from = self.away_from or time.monotonic()
        if time.monotonic() - self.away_from < self.away_s:
            raise TorrentClientUnavailableError("qBittorrent unreachable: ConnectionError")
        self.back += 1  # back: first the same bytes as before it went, then done
        return _status("downloading", 100) if self.back == 1 else _status("uploading", 200)


def _status(state: str, downloaded: int) -> TorrentStatus:
    return TorrentStatus("ab" * 20, "n", state, downloaded / 200, 200, downloaded, None, 1,
                         "/d/n", "/d", "audiobooks", ())  # fmt: skip


async def test_a_qbittorrent_outage_longer_than_the_stall_timeout_is_no_stall() -> None:
    """Its bytes could not grow while qBittorrent was away: the outage's time is not
    counted, so the download is not failed as DOWNLOAD_STALLED when qBittorrent returns."""
    torrents = AwayThenBack(away_s=0.5)
    timing = Timing(poll_s=0.02, progress_every_s=60, stall_timeout_s=0.3)
    attempt = Attempt(None, torrents, FakePublisher(), SelectionRules(), timing, "c", None)  # type: ignore[arg-type]
    status = await attempt._watch(BOOK, "ab" * 20, "idx", uuid.uuid4())
    assert status.state == "uploading"
