"""Watching one torrent in qBittorrent until it completes, errors or stalls.

Pure decisions (`judge`) over successive status samples; the loop that samples lives in
`attempt.py`. A torrent is stalled when its downloaded bytes have not grown for
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
