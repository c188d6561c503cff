"""What the recorder makes of progress samples and heartbeats, without a database: the
newest sample wins in any order, a sample never brings a finished download back, and a
service is last seen at its newest heartbeat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations
from typing import Any

import pytest

from services.recorder.entities import Kind
from services.recorder.projection import View, project
from shared import events as ev

BOOK = ev.BookRef(title="Project Hail Mary", author="Andy Weir", asin="B08G9PRS1K")
HASH = "ab" * 20
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _at(event: ev.Event[Any], seconds: float) -> ev.Event[Any]:
    return event.model_copy(update={"occurred_at": T0 + timedelta(seconds=seconds)})


def _queued(seconds: float, size: int = 900) -> ev.Event[Any]:
    payload = ev.DownloadQueuedPayload(
        book=BOOK, source="prowlarr", release_title="Project Hail Mary [m4b]", info_hash=HASH,
        size_bytes=size,
    )  # fmt: skip
    return _at(ev.DownloadQueued.create(payload, producer="t"), seconds)


def _sample(seconds: float, progress: float, state: str = "downloading") -> ev.Event[Any]:
    payload = ev.DownloadProgressedPayload(
        book=BOOK, info_hash=HASH, qbittorrent_status=state, progress=progress,
        downloaded_bytes=int(progress * 1000), size_bytes=1000, speed_bytes_per_second=50,
        eta_seconds=round((1 - progress) * 20), seeders=4, leechers=1,
    )  # fmt: skip
    return _at(ev.DownloadProgressed.create(payload, producer="t"), seconds)


def _completed(seconds: float) -> ev.Event[Any]:
    payload = ev.DownloadCompletedPayload(
        book=BOOK, info_hash=HASH, content_path="/downloads/phm", files=["phm.m4b"]
    )
    return _at(ev.DownloadCompleted.create(payload, producer="t"), seconds)


def _failed(seconds: float) -> ev.Event[Any]:
    payload = ev.DownloadFailedPayload(
        book=BOOK, error_code="DOWNLOAD_STALLED", reason="no progress", info_hash=HASH,
        retry=ev.RetryInfo(retry_count=1, max_retries=3, will_retry=True),
    )  # fmt: skip
    return _at(ev.DownloadFailed.create(payload, producer="t"), seconds)


def _abandoned(seconds: float) -> ev.Event[Any]:
    payload = ev.DownloadAbandonedPayload(
        book=BOOK, error_code="DOWNLOAD_STALLED", reason="gave up", retry_count=3
    )
    return _at(ev.DownloadAbandoned.create(payload, producer="t"), seconds)


def _recorded(events: tuple[ev.Event[Any], ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The download's and the gap's columns once `events` are applied in this order."""
    view = View()
    for event in events:
        project(event, view)
    download = view.entities[(Kind.DOWNLOAD, BOOK.key)].columns
    gap = view.entities[(Kind.MISSING, BOOK.key)].columns
    return download, gap


def _every_order(events: list[ev.Event[Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [_recorded(order) for order in permutations(events)]


def test_the_newest_sample_wins_in_any_order_and_the_download_is_downloading() -> None:
    events = [_queued(0), _sample(30, 0.2), _sample(60, 0.6, "stalledDL"), _sample(45, 0.4)]
    for download, gap in _every_order(events):
        assert (download["status"], gap["download_status"]) == ("downloading", "downloading")
        assert download["progress"] == 0.6
        assert download["downloaded_bytes"] == 600
        assert (download["speed_bytes_per_second"], download["eta_seconds"]) == (50, 8)
        assert download["progress_at"] == T0 + timedelta(seconds=60)
        assert download["qbittorrent_status"] == "stalledDL"
        assert download["source"] == "prowlarr"


def test_a_queued_download_without_a_sample_is_queued_with_the_releases_size() -> None:
    download, gap = _recorded((_queued(0, size=123_456),))
    assert (download["status"], gap["download_status"]) == ("queued", "queued")
    assert (download["progress"], download["size_bytes"]) == (None, 123_456)


@pytest.mark.parametrize(
    ("finish", "status", "gap_status"),
    [(_completed, "completed", "completed"), (_failed, "failed", "failed"),
     (_abandoned, "abandoned", "failed")],
)  # fmt: skip
def test_a_sample_never_brings_a_finished_download_back(
    finish: Any, status: str, gap_status: str
) -> None:
    """Even a sample dated after the end (another host's clock, a late producer)."""
    events = [_queued(0), _sample(30, 0.5), finish(90), _sample(120, 0.99)]
    for download, gap in _every_order(events):
        assert (download["status"], gap["download_status"]) == (status, gap_status)


def test_a_new_release_starts_afresh_and_the_old_ones_samples_do_not_return() -> None:
    events = [_queued(0), _sample(30, 0.9), _failed(60), _queued(120, size=777)]
    for download, gap in _every_order(events):
        assert (download["status"], gap["download_status"]) == ("queued", "queued")
        assert (download["progress"], download["progress_at"]) == (None, None)
        assert download["size_bytes"] == 777


def test_a_sample_seen_before_anything_else_makes_a_downloading_gap() -> None:
    download, gap = _recorded((_sample(30, 0.25),))
    assert (download["status"], gap["download_status"]) == ("downloading", "downloading")
    assert download["source"] == "unknown"  # until its "queued" is read


# -------------------------------------------------------------------------- heartbeats


def _heartbeat(seconds: float, *, ready: bool, away: dict[str, str] | None = None) -> Any:
    payload = ev.HeartbeatPayload(
        service="downloader", instance_id="host-a:42", hostname="host-a", pid=42,
        started_at=T0, interval_seconds=30, ready=ready, checks={"kafka": True},
        unavailable=away or {},
    )  # fmt: skip
    return _at(ev.HeartbeatSent.create(payload, producer="downloader"), seconds)


def test_a_service_is_last_seen_at_its_newest_heartbeat_whatever_the_order() -> None:
    beats = [
        _heartbeat(0, ready=False, away={"qBittorrent": "connection refused"}),
        _heartbeat(60, ready=True),
        _heartbeat(30, ready=False, away={"qBittorrent": "connection refused"}),
    ]
    for order in permutations(beats):
        view = View()
        for beat in order:
            project(beat, view)
        instance = view.entities[(Kind.INSTANCE, "host-a:42")].columns
        assert instance["last_seen_at"] == T0 + timedelta(seconds=60)
        assert instance["first_seen_at"] == T0
        assert (instance["service"], instance["ready"]) == ("downloader", True)
        assert instance["readiness"] == {
            "checks": {"kafka": True}, "unavailable": {}, "refused": {},
        }  # fmt: skip
