"""The downloader's progress events: qBittorrent is polled every few seconds, but a
download's progress is published at most once per interval, and at once when its state
changes (once more per interval at most: a flapping state is no flood)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from services.downloader.attempt import Attempt, Timing
from services.downloader.release_selection import SelectionRules
from services.downloader.torrent_client import TorrentStatus
from services.downloader.watch import ETA_UNKNOWN, Reporting, known_eta
from shared import events as ev
from tests.support.fakes import FakePublisher

BOOK = ev.BookRef(title="Project Hail Mary", author="Andy Weir", asin="B08G9PRS1K")
HASH = "ab" * 20
SIZE = 1_000_000
POLL_S = 5.0


def _sample(state: str, done: int, eta: int | None = 600) -> TorrentStatus:
    return TorrentStatus(
        HASH, "Project Hail Mary", state, done / SIZE, SIZE, done, eta, 7, "/d/phm", "/d",
        "audiobooks", (), dlspeed=25_000, num_leechs=2,
    )  # fmt: skip


@dataclass
class Clock:
    """Monotonic seconds that move only when qBittorrent is polled."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ScriptedQbittorrent:
    """Answers each poll with the next sample; a poll takes `POLL_S` of the clock."""

    clock: Clock
    samples: list[TorrentStatus]

    async def status(self, info_hash: str) -> TorrentStatus:
        self.clock.now += POLL_S
        return self.samples.pop(0)


Reported = list[ev.Event[ev.DownloadProgressedPayload]]


async def _watched(samples: list[TorrentStatus], every_s: float = 30.0) -> Reported:
    clock = Clock()
    qbittorrent = ScriptedQbittorrent(clock, samples)
    published = FakePublisher()
    timing = Timing(poll_s=0, progress_every_s=every_s, stall_timeout_s=3600, clock=clock)
    attempt = Attempt(None, qbittorrent, published, SelectionRules(), timing, "c", None)  # type: ignore[arg-type]
    status = await attempt._watch(BOOK, HASH, "prowlarr", uuid.uuid4())
    assert status.is_complete
    assert not qbittorrent.samples  # every scripted poll happened
    return published.of(ev.DownloadProgressed)


async def test_progress_is_published_once_per_interval_not_once_per_poll() -> None:
    # 100 s of steady transfer, polled every 5 s: 20 polls, then complete.
    samples = [_sample("downloading", 10_000 * n) for n in range(1, 20)]
    reported = await _watched([*samples, _sample("uploading", SIZE)])
    # At the first poll (t+5), then t+35, t+65, t+95: four events, not nineteen.
    assert [round(e.payload.progress, 2) for e in reported] == [0.01, 0.07, 0.13, 0.19]


async def test_a_state_change_is_published_at_once_but_a_flapping_state_is_no_flood() -> None:
    states = ["downloading"] * 3 + ["stalledDL", "downloading", "stalledDL"] + ["downloading"] * 13
    samples = [_sample(state, 10_000 * (n + 1)) for n, state in enumerate(states)]
    reported = await _watched([*samples, _sample("uploading", SIZE)])
    # t+5 the first; t+20 stalledDL at once; the flaps at t+25 and t+30 wait; then t+50
    # and t+80 on the interval.
    assert [(e.payload.qbittorrent_status, e.payload.downloaded_bytes) for e in reported] == [
        ("downloading", 10_000), ("stalledDL", 40_000), ("downloading", 100_000),
        ("downloading", 160_000),
    ]  # fmt: skip


async def test_a_sample_says_what_an_operator_wants_to_see() -> None:
    reported = await _watched(
        [_sample("metaDL", 0, eta=ETA_UNKNOWN), replace(_sample("uploading", SIZE), eta=0)]
    )
    [sample] = reported
    p = sample.payload
    assert (p.info_hash, p.qbittorrent_status, p.progress) == (HASH, "metaDL", 0.0)
    assert p.eta_seconds is None  # qBittorrent's "infinity", not 100 days
    assert (p.size_bytes, p.speed_bytes_per_second, p.seeders, p.leechers) == (
        SIZE, 25_000, 7, 2,
    )  # fmt: skip
    assert sample.key == BOOK.key


def test_the_throttle_alone() -> None:
    reporting = Reporting(every_s=30)
    seen = [
        (t, state)
        for t, state in [
            (0, "downloading"), (10, "downloading"), (29, "downloading"), (30, "downloading"),
            (31, "stalledDL"), (32, "downloading"), (45, "stalledDL"), (60, "stalledDL"),
            (61, "downloading"), (62, "stalledDL"),
        ]
        if reporting.due(state, t)
    ]  # fmt: skip
    # The first; the interval; a change at once; the changes after it wait: 61 is the
    # interval since 31, and 62 the next early one allowed (31 s after the last).
    assert seen == [
        (0, "downloading"), (30, "downloading"), (31, "stalledDL"), (61, "downloading"),
        (62, "stalledDL"),
    ]  # fmt: skip


def test_a_state_flapping_every_second_costs_at_most_two_events_per_interval() -> None:
    reporting = Reporting(every_s=30)
    states = ("downloading", "stalledDL")
    reported = [t for t in range(300) if reporting.due(states[t % 2], t)]
    assert len(reported) <= 2 * 300 / 30 + 1
    assert all(
        later - earlier >= 30 for earlier, later in zip(reported, reported[2:], strict=False)
    )


def test_eta_infinity_and_nonsense_are_unknown() -> None:
    assert [known_eta(v) for v in (None, -1, 0, 95, ETA_UNKNOWN, ETA_UNKNOWN + 1)] == [
        None, None, 0, 95, None, None,
    ]  # fmt: skip


def test_qbittorrents_fields_are_read_into_the_sample() -> None:
    from services.downloader.torrent_client import _status

    raw = {
        "hash": HASH.upper(), "name": "phm", "state": "downloading", "progress": 0.5,
        "size": SIZE, "downloaded": SIZE // 2, "eta": ETA_UNKNOWN, "num_seeds": 3,
        "num_leechs": 4, "dlspeed": 123_456, "tags": "abauto-x, other",
    }  # fmt: skip
    status = _status(raw)
    assert (status.hash, status.dlspeed, status.num_seeds, status.num_leechs) == (
        HASH, 123_456, 3, 4,
    )  # fmt: skip
    assert status.tags == ("abauto-x", "other")
