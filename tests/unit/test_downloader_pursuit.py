"""A pursuit with in-memory fakes: what is not the book's fault is never charged to it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from sandbox.torrents import info_hash_of, make_torrent
from services.downloader.attempt import Attempt, AttemptFailed, Timing, job_tag, source_of
from services.downloader.blocklist import Blocklist
from services.downloader.pursuit import Budget, Pursuits
from services.downloader.release_selection import Blocked, SelectionRules
from services.downloader.torrent_client import (
    TorrentClientAuthError,
    TorrentClientUnavailableError,
    TorrentStatus,
)
from services.downloader.torznab import Release, SearchOutcome
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


# ------------------------------------------------------------------- the release blocklist


def _release(guid: str = "https://tracker.example/t/7") -> Release:
    return Release(
        indexer="mam",
        title="Andy Weir - Project Hail Mary [m4b]",
        guid=guid,
        download_url=SecretStr("https://tracker.example/dl/7?key=secret"),
        size_bytes=900 * 1024 * 1024,
        seeders=12,
        peers=14,
    )


def _blocked_pursuits(
    attempts: ScriptedAttempts, published: FakePublisher, blocklist: Blocklist
) -> Pursuits:
    budget = Budget(3, timedelta(0), timedelta(0))
    return Pursuits(attempts, published, budget, 2, asyncio.Event(), blocklist=blocklist)


async def _nothing_recorded(book: ev.BookRef) -> Blocked:
    return Blocked()


async def test_a_stalled_release_is_blocklisted_at_once_for_the_next_attempt() -> None:
    published, blocklist = FakePublisher(), Blocklist(_nothing_recorded)
    stalled = AttemptFailed(
        "DOWNLOAD_STALLED", "no progress", info_hash="AB" * 20, source="mam", release=_release()
    )
    attempts = ScriptedAttempts(stalled)
    pursuits = _blocked_pursuits(attempts, published, blocklist)
    pursuits.start(BOOK)
    await pursuits.wait_idle()
    [blocked] = published.of(ev.ReleaseBlocklisted)
    assert (blocked.payload.info_hash, blocked.payload.guid) == ("AB" * 20, _release().guid)
    assert (blocked.payload.stage, blocked.payload.reason_code) == (
        ev.BlockStage.DOWNLOAD, "DOWNLOAD_STALLED",
    )  # fmt: skip
    # Before the recorder has written it, the next attempt already leaves it out.
    assert await blocklist.of(BOOK) == Blocked(
        info_hashes=frozenset({"ab" * 20}), guids=frozenset({_release().guid})
    )
    assert len(published.of(ev.DownloadCompleted)) == 1


async def test_a_failure_that_is_not_the_releases_blocklists_nothing() -> None:
    published, blocklist = FakePublisher(), Blocklist(_nothing_recorded)
    attempts = ScriptedAttempts(AttemptFailed("NO_RELEASE", "nothing matched"))
    await _run(_blocked_pursuits(attempts, published, blocklist))
    assert published.of(ev.ReleaseBlocklisted) == []
    assert await blocklist.of(BOOK) == Blocked()


async def test_a_release_refused_at_import_is_charged_once_and_the_book_pursued_again() -> None:
    published, blocklist = FakePublisher(), Blocklist(_nothing_recorded)
    attempts = ScriptedAttempts()
    pursuits = _blocked_pursuits(attempts, published, blocklist)
    refusal = AttemptFailed(
        "WRONG_BOOK", "refused at import: the album is 'Artemis'", info_hash="cd" * 20,
        details={"stage": "import"},
    )  # fmt: skip
    assert pursuits.refused(BOOK, refusal, retry_count=1)
    await pursuits.wait_idle()
    [failed] = published.of(ev.DownloadFailed)
    assert (failed.payload.error_code, failed.payload.retry.retry_count) == ("WRONG_BOOK", 2)
    assert published.of(ev.FailureRecorded) == []  # the importer recorded it already
    assert attempts.runs == 1
    assert len(published.of(ev.DownloadCompleted)) == 1


async def test_a_refusal_past_the_budget_abandons_the_book_without_another_attempt() -> None:
    published, blocklist = FakePublisher(), Blocklist(_nothing_recorded)
    attempts = ScriptedAttempts()
    pursuits = _blocked_pursuits(attempts, published, blocklist)
    refusal = AttemptFailed("RUNTIME_MISMATCH", "refused at import", details={"stage": "import"})
    pursuits.refused(BOOK, refusal, retry_count=2)
    await pursuits.wait_idle()
    assert attempts.runs == 0
    [abandoned] = published.of(ev.DownloadAbandoned)
    assert abandoned.payload.error_code == "RUNTIME_MISMATCH"


async def test_clearing_forgets_what_was_blocklisted_before_it() -> None:
    blocklist = Blocklist(_nothing_recorded)
    payload = ev.ReleaseBlocklistedPayload(
        book=BOOK, info_hash="ef" * 20, stage=ev.BlockStage.DOWNLOAD,
        reason_code="DOWNLOAD_ERRORED", reason="error",
    )  # fmt: skip
    blocked_at = ev.utc_now()
    blocklist.note(payload, blocked_at)
    blocklist.cleared(BOOK, blocked_at + timedelta(seconds=1))
    assert await blocklist.of(BOOK) == Blocked()


async def _run(pursuits: Pursuits) -> None:
    pursuits.start(BOOK)
    await pursuits.wait_idle()


class TwoReleases:
    """Indexers offering two releases of BOOK whose names do not say their info-hash (as
    many indexers do not): the better-ranked one first."""

    def __init__(self, tmp: Path) -> None:
        self.torrents: dict[str, bytes] = {}
        self.releases = []
        for n, seeders in ((1, 30), (2, 3)):
            content = tmp / f"phm-{n}"
            content.mkdir()
            (content / "phm.m4b").write_bytes(bytes([n]) * 4096)
            guid = f"https://tracker.example/t/{n}"
            self.torrents[guid] = make_torrent(content)
            self.releases.append(replace(_release(guid), seeders=seeders))
        self.fetched: list[str] = []

    def hash_of(self, n: int) -> str:
        return info_hash_of(self.torrents[f"https://tracker.example/t/{n}"])

    async def search_all(self, title: str, author: str | None) -> SearchOutcome:
        return SearchOutcome(list(self.releases))

    async def fetch_torrent(self, release: Release) -> bytes:
        self.fetched.append(release.guid)
        return self.torrents[release.guid]

    def fetched_with(self, release: Release) -> dict[str, str]:
        return {}

    def keeps_unfinished(self, name: str) -> bool:
        return name == "mam"


class Client:
    """qBittorrent that takes any torrent and completes it at once."""

    def __init__(self, existing: list[TorrentStatus] | None = None) -> None:
        self.existing = existing or []
        self.added: list[str] = []

    async def by_tag(self, tag: str) -> list[TorrentStatus]:
        return self.existing

    async def add(self, torrent: bytes, **options: Any) -> str:
        self.added.append(info_hash_of(torrent))
        return self.added[-1]

    async def status(self, info_hash: str) -> TorrentStatus:
        return replace(_status("uploading", 200), hash=info_hash)

    async def files(self, info_hash: str) -> list[str]:
        return ["n/phm.m4b"]


def _attempt(indexers: TwoReleases, client: Client, blocked: Blocked) -> tuple[Attempt, Any]:
    async def recorded(book: ev.BookRef) -> Blocked:
        return blocked

    published = FakePublisher()
    timing = Timing(poll_s=0.01, progress_every_s=60, stall_timeout_s=60)
    attempt = Attempt(
        indexers, client, published, SelectionRules(min_size_bytes=0), timing, "c", None,  # type: ignore[arg-type]
        Blocklist(recorded),
    )  # fmt: skip
    return attempt, published


async def test_a_fetched_torrent_that_is_blocklisted_gives_way_to_the_next_candidate(
    tmp_path: Path,
) -> None:
    indexers, client = TwoReleases(tmp_path), Client()
    blocked = Blocked(info_hashes=frozenset({indexers.hash_of(1)}))
    attempt, published = _attempt(indexers, client, blocked)
    completed = await attempt.run(BOOK, 3, uuid.uuid4())
    assert client.added == [indexers.hash_of(2)]  # the one with 30 seeders was not taken
    assert completed.info_hash == indexers.hash_of(2)
    assert (completed.guid, completed.source) == ("https://tracker.example/t/2", "mam")
    [queued] = published.of(ev.DownloadQueued)
    assert queued.payload.selection["passed_over_blocklisted"] == [indexers.releases[0].title]


async def test_a_blocklisted_torrent_of_the_job_in_qbittorrent_is_not_resumed(
    tmp_path: Path,
) -> None:
    indexers = TwoReleases(tmp_path)
    refused = replace(_status("uploading", 200), hash=indexers.hash_of(1))
    client = Client(existing=[refused])
    attempt, _ = _attempt(indexers, client, Blocked(info_hashes=frozenset({refused.hash})))
    completed = await attempt.run(BOOK, 3, uuid.uuid4())
    assert completed.info_hash == indexers.hash_of(2)
    assert client.added == [indexers.hash_of(2)]


async def test_when_every_candidate_is_blocklisted_nothing_is_added(tmp_path: Path) -> None:
    indexers, client = TwoReleases(tmp_path), Client()
    blocked = Blocked(guids=frozenset(r.guid for r in indexers.releases))
    attempt, _ = _attempt(indexers, client, blocked)
    with pytest.raises(AttemptFailed) as failed:
        await attempt.run(BOOK, 3, uuid.uuid4())
    assert failed.value.code == "NO_MATCHING_RELEASE"
    assert failed.value.details["dropped"] == {"blocklisted": 2}
    assert (indexers.fetched, client.added) == ([], [])


class Deleting(Client):
    """qBittorrent that remembers what it was told to delete."""

    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[str] = []

    async def delete(self, info_hash: str, *, delete_files: bool) -> None:
        self.deleted.append(info_hash)


class Tagging(Client):
    """qBittorrent that keeps the tags each torrent was added with."""

    def __init__(self, existing: list[TorrentStatus] | None = None) -> None:
        super().__init__(existing)
        self.tags: dict[str, str] = {}

    async def add(self, torrent: bytes, **options: Any) -> str:
        added = await super().add(torrent, **options)
        self.tags[added] = options["tag"]
        return added


async def test_a_torrent_says_which_indexer_it_came_from_and_is_resumed_as_such(
    tmp_path: Path,
) -> None:
    """After a restart the indexer is read back from the torrent's tags: a resumed
    MyAnonamouse torrent that then fails is still never removed (nor taken for the
    qBittorrent category's name)."""
    indexers, client = TwoReleases(tmp_path), Tagging()
    attempt, _ = _attempt(indexers, client, Blocked())
    await attempt.run(BOOK, 3, uuid.uuid4())
    [(added, tags)] = client.tags.items()
    assert tags.split(",") == [job_tag(BOOK), "abauto-from-mam"]

    resumed = replace(_status("stalledDL", 100), hash=added, tags=tuple(tags.split(",")))
    assert source_of(resumed) == "mam"
    assert source_of(replace(resumed, tags=(job_tag(BOOK),))) is None  # added before tags


@pytest.mark.parametrize(
    ("indexer", "deleted"), [("mam", []), ("prowlarr", ["ab" * 20]), (None, [])]
)
async def test_a_failed_download_from_a_tracker_that_counts_started_ones_stays(
    tmp_path: Path, indexer: str | None, deleted: list[str]
) -> None:
    """MyAnonamouse counts a started download as owed seeding time: a stalled one is left
    in qBittorrent (blocklisted for the book) instead of removed with its files; so is
    one whose indexer is unknown (resumed, added before torrents said their indexer)."""
    client = Deleting()
    attempt, _ = _attempt(TwoReleases(tmp_path), client, Blocked())
    await attempt._give_up("ab" * 20, indexer)
    assert client.deleted == deleted
