"""Watching one torrent in qBittorrent until it completes, errors or stalls.

Pure decisions over successive status samples: the verdict on each (`judge`) and
whether it is worth a "download progressed" event (`Reporting`); the loop that samples
lives in `attempt.py`. A torrent is stalled when its downloaded bytes have not grown for
`stall_timeout` — qBittorrent's own `stalledDL` state comes and goes mid-transfer and is
not a failure by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.downloader.torrent_client import TorrentStatus


class Verdict(StrEnum):
    """What a status sample means for the download."""

    RUNNING = "running"
    COMPLETE = "complete"
    ERRORED = "errored"
    STALLED = "stalled"
    VANISHED = "vanished"


@dataclass
class Progress:
    """The last time the download moved, in monotonic seconds."""

    downloaded: int = -1
    moved_at: float = 0.0


def judge(
    status: TorrentStatus | None, progress: Progress, now: float, stall_timeout: float
) -> Verdict:
    """The verdict on one sample; updates `progress` when bytes moved."""
    if status is None:
        return Verdict.VANISHED
    if status.is_complete:
        return Verdict.COMPLETE
    if status.is_errored:
        return Verdict.ERRORED
    if status.downloaded > progress.downloaded:
        progress.downloaded, progress.moved_at = status.downloaded, now
        return Verdict.RUNNING
    return Verdict.STALLED if now - progress.moved_at >= stall_timeout else Verdict.RUNNING


ETA_UNKNOWN = 8_640_000
"""qBittorrent's "infinity" (100 days): the ETA it reports while nothing moves."""


def known_eta(eta: int | None) -> int | None:
    """qBittorrent's ETA in seconds, or None where it has none."""
    return eta if eta is not None and 0 <= eta < ETA_UNKNOWN else None


@dataclass
class Reporting:
    """Which samples of one download become "download progressed" events: the first, then
    one every `every_s` seconds, and one at once when qBittorrent's state changes — at
    most one such early one per interval, so a state that flaps (downloading, stalledDL,
    downloading…) costs at most twice the events, never one per poll."""

    every_s: float
    state: str | None = None
    at: float | None = None
    early_at: float | None = None

    def due(self, state: str, now: float) -> bool:
        """Whether a sample in `state` at `now` (monotonic seconds) is reported; noted if
        it is."""
        if self.at is None or now - self.at >= self.every_s:
            early = False
        elif state != self.state and (self.early_at is None or now - self.early_at >= self.every_s):
            early = True
        else:
            return False
        self.state, self.at = state, now
        if early:
            self.early_at = now
        return True
