"""The releases never to be taken again for a book: what the record says (blocked_releases,
since the book's blocklist was last cleared) and what this process learnt since, which
the recorder may not have written yet (an attempt that fails at once is retried before
its "release blocklisted" is recorded).

Which failures blocklist a release: those that say the release itself is bad — it
stalled, errored, vanished from qBittorrent, was refused by qBittorrent or could not be
fetched from its indexer, or its files were refused at import (`stage` import). Not: no
release found, an indexer or qBittorrent away, an internal error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from services.downloader.release_selection import Blocked
from shared import events as ev

RELEASE_FAILURES = frozenset(
    {
        "DOWNLOAD_STALLED",
        "DOWNLOAD_ERRORED",
        "DOWNLOAD_REMOVED",
        "TORRENT_REJECTED",
        "TORRENT_FETCH_FAILED",
    }
)
"""Attempt failures that are the release's fault, not the book's or a dependency's."""

RecordReader = Callable[[ev.BookRef], Awaitable[Blocked]]


@dataclass(frozen=True)
class _Entry:
    at: datetime
    info_hash: str | None
    guid: str | None


class Blocklist:
    """Per book: the record's blocklist joined with this process's newer entries."""

    def __init__(self, read_record: RecordReader) -> None:
        self._read_record = read_record
        self._recent: dict[str, list[_Entry]] = {}

    def note(self, payload: ev.ReleaseBlocklistedPayload, at: datetime) -> None:
        """Remember a release blocklisted at `at` (ours, or heard on the topic)."""
        entry = _Entry(at, payload.info_hash.lower() if payload.info_hash else None, payload.guid)
        entries = self._recent.setdefault(payload.book.key, [])
        if entry not in entries:
            entries.append(entry)

    def cleared(self, book: ev.BookRef, at: datetime) -> None:
        """Forget what was blocklisted for `book` before `at`."""
        kept = [e for e in self._recent.get(book.key, []) if e.at > at]
        if kept:
            self._recent[book.key] = kept
        else:
            self._recent.pop(book.key, None)

    async def of(self, book: ev.BookRef) -> Blocked:
        """Every release blocklisted for `book` now."""
        recorded = await self._read_record(book)
        recent = self._recent.get(book.key, [])
        return Blocked(
            info_hashes=recorded.info_hashes | {e.info_hash for e in recent if e.info_hash},
            guids=recorded.guids | {e.guid for e in recent if e.guid},
        )


def blocklisting(
    book: ev.BookRef,
    code: str,
    reason: str,
    *,
    info_hash: str | None,
    guid: str | None,
    indexer: str | None,
    release_title: str | None,
) -> ev.ReleaseBlocklistedPayload | None:
    """The "release blocklisted" a download failure calls for, or None (not the
    release's fault, or nothing identifies the release)."""
    if code not in RELEASE_FAILURES or not (info_hash or guid):
        return None
    return ev.ReleaseBlocklistedPayload(
        book=book,
        info_hash=info_hash,
        guid=guid,
        indexer=indexer,
        release_title=release_title[:1000] if release_title else None,
        stage=ev.BlockStage.DOWNLOAD,
        reason_code=code,
        reason=reason[:500],
    )
