"""One download attempt for one wanted book: search the indexers, choose a release, hand
its .torrent to qBittorrent, watch it to the end.

Releases blocklisted for the book (`blocklist.py`) are never taken: the choice leaves
out those whose info-hash or guid the indexer names, and a fetched .torrent whose
info-hash is blocklisted is passed over for the next candidate in rank order. A torrent
of the book's job already in qBittorrent is resumed only if it is not blocklisted.

Every way an attempt can fail *because of the book* is an `AttemptFailed` with a
machine-readable code; the caller (`pursuit.py`) turns it into a "download failed" with
the retry decision. qBittorrent or every indexer being away, or refusing our
credentials, is not the book's failure: those errors are raised as they are
(`shared.faults`), and the pursuit waits for the dependency instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from services.downloader.blocklist import Blocklist
from services.downloader.release_selection import (
    Blocked,
    Choice,
    Rejection,
    SelectionRules,
    Wanted,
    choose_release,
)
from services.downloader.torrent_client import (
    QbittorrentClient,
    TorrentClientError,
    TorrentRejectedError,
    TorrentStatus,
)
from services.downloader.torrent_client import info_hash as hash_of
from services.downloader.torznab import Indexers, Release
from services.downloader.watch import Progress, Reporting, Verdict, judge, known_eta
from shared import events as ev
from shared.faults import CredentialsRefused, Unavailable, is_refused, is_transient
from shared.http import HttpError, redact
from shared.task_runs import Publisher

logger = logging.getLogger(__name__)

PRODUCER = "downloader"
MAX_FETCHES = 5
"""How many candidates one attempt fetches before giving up on blocklisted .torrents."""


class AttemptFailed(Exception):  # noqa: N818  (it is an outcome, named as one)
    """The attempt failed; `code` says how (NO_RELEASE, DOWNLOAD_STALLED, …)."""

    def __init__(
        self,
        code: str,
        reason: str,
        *,
        info_hash: str | None = None,
        source: str | None = None,
        details: dict[str, Any] | None = None,
        release: Release | None = None,
    ) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.info_hash = info_hash
        self.source = source
        self.details = details or {}
        self.release = release
        """The release that failed, when one was chosen in this attempt."""


@dataclass(frozen=True)
class Timing:
    """How the watch loop samples qBittorrent, and by which clock (monotonic seconds;
    tests give their own)."""

    poll_s: float
    progress_every_s: float
    stall_timeout_s: float
    clock: Callable[[], float] = time.monotonic


SOURCE_TAG = "abauto-from-"
"""The prefix of the qBittorrent tag naming the indexer a torrent came from, so that a
torrent resumed after a restart is treated as its indexer requires (a private tracker's
is never removed)."""


def source_tag(indexer: str) -> str:
    """The tag saying a torrent came from `indexer` (qBittorrent tags hold no comma)."""
    return SOURCE_TAG + indexer.replace(",", " ")


def source_of(status: TorrentStatus) -> str | None:
    """The indexer a torrent of ours came from, if it carries the tag (torrents added by
    versions before the tag do not)."""
    return next((t[len(SOURCE_TAG) :] for t in status.tags if t.startswith(SOURCE_TAG)), None)


def job_tag(book: ev.BookRef) -> str:
    """The qBittorrent tag that identifies this book's download job (stable across retries
    and restarts, so a restarted downloader finds its torrent again)."""
    return "abauto-" + hashlib.sha1(book.key.encode(), usedforsecurity=False).hexdigest()[:16]


class Attempt:
    """The collaborators of an attempt, wired once per process."""

    def __init__(
        self,
        indexers: Indexers,
        torrents: QbittorrentClient,
        publisher: Publisher,
        rules: SelectionRules,
        timing: Timing,
        category: str,
        save_path: str | None,
        blocklist: Blocklist | None = None,
    ) -> None:
        self._blocklist = blocklist
        self._indexers = indexers
        self._torrents = torrents
        self._publisher = publisher
        self._rules = rules
        self._timing = timing
        self._category = category
        self._save_path = save_path

    async def run(
        self, book: ev.BookRef, max_retries: int, correlation: Any
    ) -> ev.DownloadCompletedPayload:
        """Search, add and watch; return what completed, or raise `AttemptFailed`."""
        blocked = await self._blocklist.of(book) if self._blocklist else Blocked()
        existing = await self._existing(book, blocked)
        release: Release | None = None
        if existing is not None:
            torrent_hash, source = existing.hash, source_of(existing)
            logger.info(
                "%s: resuming its torrent %s, already in qBittorrent",
                book.key,
                torrent_hash,
                extra={"event": "download.resumed", "info_hash": torrent_hash},
            )
        else:
            choice = await self._choose(book, blocked)
            release, torrent_hash, passed_over = await self._add_first(book, choice, blocked)
            source = release.indexer
            selection = {**choice.explanation, **self._indexers.fetched_with(release)}
            if passed_over:
                selection["passed_over_blocklisted"] = passed_over
            queued = ev.DownloadQueuedPayload(
                book=book,
                source=release.indexer,
                release_title=release.title,
                info_hash=torrent_hash,
                # Where it came from, for the record: without the indexer's API key.
                torrent_url=SecretStr(redact(release.download_url.get_secret_value())),
                size_bytes=release.size_bytes,
                max_retries=max_retries,
                guid=release.guid[:1000] or None,
                selection=selection,
            )
            await self._publish(
                ev.DownloadQueued.create(queued, producer=PRODUCER, correlation_id=correlation)
            )
            logger.info(
                "%s: queued %r from %s as %s",
                book.key,
                release.title,
                release.indexer,
                torrent_hash,
                extra={
                    "event": "download.queued",
                    "release": release.title,
                    "indexer": release.indexer,
                    "info_hash": torrent_hash,
                    "size_bytes": release.size_bytes,
                },
            )
        try:
            status = await self._watch(book, torrent_hash, source, correlation)
        except AttemptFailed as failure:
            failure.release = release
            raise
        return await self._completed(book, status, release)

    async def _existing(self, book: ev.BookRef, blocked: Blocked) -> TorrentStatus | None:
        try:
            found = await self._torrents.by_tag(job_tag(book))
        except TorrentClientError as error:
            _raise_if_not_the_books(error)
            raise AttemptFailed("TORRENT_CLIENT_ERROR", str(error)) from error
        # A blocklisted torrent refused at import keeps seeding (removing it early would
        # be a hit-and-run on a private tracker); it is just never this book's again.
        usable = [t for t in found if not t.is_errored and t.hash not in blocked.info_hashes]
        return usable[0] if usable else None

    async def _add_first(
        self, book: ev.BookRef, choice: Choice, blocked: Blocked
    ) -> tuple[Release, str, list[str]]:
        """Fetch the candidates in rank order and add the first whose .torrent is not
        blocklisted; the release, its info-hash and the titles passed over."""
        passed_over: list[str] = []
        for release in choice.candidates[:MAX_FETCHES]:
            torrent = await self._fetch(release)
            try:
                torrent_hash = hash_of(torrent)
            except TorrentRejectedError as error:
                raise AttemptFailed(
                    "TORRENT_REJECTED", str(error), source=release.indexer, release=release
                ) from error
            if torrent_hash in blocked.info_hashes:
                logger.info(
                    "%s: refused %r from %s: its torrent %s is blocklisted; taking the next",
                    book.key,
                    release.title,
                    release.indexer,
                    torrent_hash,
                    extra={
                        "event": "release.refused",
                        "stage": "fetch",
                        "reason": "blocklisted",
                        "release": release.title,
                        "indexer": release.indexer,
                        "info_hash": torrent_hash,
                    },
                )
                passed_over.append(release.title[:300])
                continue
            return release, await self._add(book, release, torrent), passed_over
        raise AttemptFailed(
            "NO_MATCHING_RELEASE",
            f"every candidate fetched is blocklisted for this book ({len(passed_over)})",
            details={"blocklisted": passed_over},
        )

    async def _choose(self, book: ev.BookRef, blocked: Blocked) -> Choice:
        query = f"{book.title} {book.author or ''}".strip()
        outcome = await self._indexers.search_all(book.title, book.author)
        failures = {name: str(error) for name, error in outcome.failures}
        found = Counter(release.indexer for release in outcome.releases)
        logger.info(
            "%s: searched %r: %d releases%s",
            book.key,
            query,
            len(outcome.releases),
            f"; failed: {', '.join(sorted(failures))}" if failures else "",
            extra={
                "event": "release.searched",
                "query": query,
                "found": len(outcome.releases),
                "found_by_indexer": dict(found),
                "failed_indexers": sorted(failures),
            },
        )
        if not outcome.releases and failures:
            _raise_if_no_indexer_could_answer([error for _, error in outcome.failures])
            raise AttemptFailed("INDEXER_UNAVAILABLE", "every indexer failed", details=failures)
        choice = choose_release(outcome.releases, Wanted.of(book), self._rules, blocked=blocked)
        _log_refusals(book, choice.refused)
        if isinstance(choice, Rejection):
            raise AttemptFailed(
                choice.reason_code,
                choice.reason,
                details={
                    "query": f"{book.title} {book.author or ''}".strip(),
                    **choice.details,
                    **({"indexer_failures": failures} if failures else {}),
                },
            )
        explained = choice.explanation
        runner_up = explained.get("runner_up") or {}
        logger.info(
            "%s: chose %r from %s: %s",
            book.key,
            choice.release.title,
            choice.release.indexer,
            explained.get("why"),
            extra={
                "event": "release.chosen",
                "release": choice.release.title,
                "indexer": choice.release.indexer,
                "why": explained.get("why"),
                "runner_up": runner_up.get("title"),
                "considered": choice.considered,
                "acceptable": explained.get("acceptable"),
                "dropped": explained.get("dropped"),
            },
        )
        return choice

    async def _fetch(self, release: Release) -> bytes:
        try:
            return await self._indexers.fetch_torrent(release)
        except HttpError as error:
            _raise_if_not_the_books(error)
            raise AttemptFailed(
                "TORRENT_FETCH_FAILED", str(error), source=release.indexer, release=release
            ) from error

    async def _add(self, book: ev.BookRef, release: Release, torrent: bytes) -> str:
        try:
            return await self._torrents.add(
                torrent,
                category=self._category,
                tag=f"{job_tag(book)},{source_tag(release.indexer)}",
                save_path=self._save_path,
            )
        except TorrentRejectedError as error:
            raise AttemptFailed(
                "TORRENT_REJECTED", str(error), source=release.indexer, release=release
            ) from error
        except TorrentClientError as error:
            _raise_if_not_the_books(error)
            raise AttemptFailed(
                "TORRENT_CLIENT_ERROR", str(error), source=release.indexer
            ) from error

    async def _watch(
        self, book: ev.BookRef, info_hash: str, source: str | None, correlation: Any
    ) -> TorrentStatus:
        clock = self._timing.clock
        progress = Progress(moved_at=clock())
        reporting = Reporting(self._timing.progress_every_s)
        away_since: float | None = None
        while True:
            try:
                status = await self._torrents.status(info_hash)
            except TorrentClientError as error:
                if is_refused(error):
                    raise  # the pursuit parks: nothing more is asked of qBittorrent
                logger.warning(
                    "qBittorrent unreachable while watching %s: %s",
                    book.key,
                    error,
                    extra={"event": "torrent_client.unreachable", "info_hash": info_hash},
                )
                status = None
                verdict = Verdict.RUNNING  # a client outage is not the torrent's fault…
                away_since = away_since or clock()
            else:
                if away_since is not None:  # …nor is its duration part of a stall
                    progress.moved_at += clock() - away_since
                    away_since = None
                verdict = judge(status, progress, clock(), self._timing.stall_timeout_s)
            if verdict is Verdict.COMPLETE and status is not None:
                return status
            if verdict is not Verdict.RUNNING:
                logger.warning(
                    "%s: download %s: %s",
                    book.key,
                    verdict.value,
                    _REASONS[verdict],
                    extra={
                        "event": _LOG_EVENTS[verdict],
                        "info_hash": info_hash,
                        "indexer": source,
                        "progress": round(status.progress, 4) if status else None,
                        "state": status.state if status else None,
                    },
                )
                await self._give_up(info_hash, source)
                raise AttemptFailed(
                    _CODES[verdict], _REASONS[verdict], info_hash=info_hash, source=source
                )
            if status is not None and reporting.due(status.state, clock()):
                await self._progressed(book, status, correlation)
            await asyncio.sleep(self._timing.poll_s)  # sampling interval, not synchronisation

    async def _progressed(self, book: ev.BookRef, status: TorrentStatus, correlation: Any) -> None:
        payload = ev.DownloadProgressedPayload(
            book=book,
            info_hash=status.hash,
            qbittorrent_status=status.state[:100],
            progress=min(max(status.progress, 0.0), 1.0),
            downloaded_bytes=_bounded(status.downloaded, ev.INT64_MAX),
            eta_seconds=known_eta(status.eta),
            size_bytes=_bounded(status.size, ev.INT64_MAX) or None,  # 0: not known yet
            speed_bytes_per_second=_bounded(status.dlspeed, ev.INT64_MAX),
            seeders=_bounded(status.num_seeds, ev.INT32_MAX),
            leechers=_bounded(status.num_leechs, ev.INT32_MAX),
        )
        await self._publish(
            ev.DownloadProgressed.create(payload, producer=PRODUCER, correlation_id=correlation)
        )

    async def _completed(
        self, book: ev.BookRef, status: TorrentStatus, release: Release | None
    ) -> ev.DownloadCompletedPayload:
        try:
            names = await self._torrents.files(status.hash)
        except TorrentClientError as error:
            _raise_if_not_the_books(error)
            raise AttemptFailed(
                "TORRENT_CLIENT_ERROR", str(error), info_hash=status.hash
            ) from error
        content_path, files = content_of(status, names)
        return ev.DownloadCompletedPayload(
            book=book,
            info_hash=status.hash,
            content_path=content_path,
            files=files,
            size_bytes=status.size if status.size and status.size > 0 else None,
            release_title=(release.title if release else status.name)[:1000] or None,
            guid=(release.guid[:1000] or None) if release else None,
            source=release.indexer if release else None,
        )

    async def _give_up(self, info_hash: str, source: str | None) -> None:
        # A torrent whose indexer is unknown (added before the source tag) may be a
        # private tracker's: it is kept rather than risk a hit-and-run.
        if source is None or self._indexers.keeps_unfinished(source):
            logger.info(
                "the failed torrent %s stays in qBittorrent: %s counts a started download "
                "until it has seeded (it is blocklisted for the book)", info_hash, source,
                extra={"event": "torrent.kept", "info_hash": info_hash, "indexer": source},
            )  # fmt: skip
            return
        try:
            await self._torrents.delete(info_hash, delete_files=True)
        except TorrentClientError as error:
            logger.warning(
                "could not remove the failed torrent %s: %s",
                info_hash,
                error,
                extra={"event": "torrent.remove_failed", "info_hash": info_hash},
            )

    async def _publish(self, event: ev.Event[Any]) -> None:
        await self._publisher.publish(event)


def _bounded(value: int, most: int) -> int:
    """A count qBittorrent reports, within what the event (and PostgreSQL) holds."""
    return min(max(value, 0), most)


def _raise_if_no_indexer_could_answer(errors: list[Exception]) -> None:
    """Every indexer failed: if each one was away or refused our key, that is no failure
    of the book; raise what the pursuit must wait for (away first: it may pass)."""
    if not all(is_transient(e) or is_refused(e) for e in errors):
        return
    summary = "; ".join(str(e) for e in errors)
    if any(is_transient(e) for e in errors):
        raise Unavailable(f"every indexer is away or refusing: {summary}")
    raise CredentialsRefused(f"every indexer refused its API key: {summary}")


def _raise_if_not_the_books(error: Exception) -> None:
    """A dependency away or refusing our credentials is not the book's failure: re-raise
    it for the pursuit to wait on (see `shared.faults`)."""
    if is_transient(error) or is_refused(error):
        raise error


def content_of(status: TorrentStatus, names: list[str]) -> tuple[str, list[str]]:
    """The folder the files are in, and the files relative to it, as qBittorrent sees them.

    qBittorrent names files relative to the save path; a multi-file torrent's content path
    is its root folder, a single-file torrent's is the file itself.
    """
    root = status.content_path.rstrip("/")
    prefix = root.rsplit("/", 1)[-1] + "/"
    if names and all(n.startswith(prefix) for n in names):
        return root, [n[len(prefix) :] for n in names]
    return status.save_path.rstrip("/") or "/", names


_CODES = {
    Verdict.ERRORED: "DOWNLOAD_ERRORED",
    Verdict.STALLED: "DOWNLOAD_STALLED",
    Verdict.VANISHED: "DOWNLOAD_REMOVED",
}
_REASONS = {
    Verdict.ERRORED: "qBittorrent reports the torrent in error",
    Verdict.STALLED: "no progress within the stall timeout",
    Verdict.VANISHED: "the torrent disappeared from qBittorrent",
}
_LOG_EVENTS = {
    Verdict.ERRORED: "download.errored",
    Verdict.STALLED: "download.stalled",
    Verdict.VANISHED: "download.vanished",
}

REFUSALS_LOGGED = 20
"""Releases refused by the rule logged one by one per search; the rest are counted."""

_UNRELATED = frozenset({"title_mismatch", "author_mismatch"})
"""Why a release is not this book at all: counted in `release.chosen`, not logged each."""


def _log_refusals(book: ev.BookRef, refused: tuple[tuple[Release, str], ...]) -> None:
    """One line per release of this book the rule left out (another book's releases,
    which every search finds, are only counted)."""
    ours = [(release, why) for release, why in refused if why not in _UNRELATED]
    for release, why in ours[:REFUSALS_LOGGED]:
        logger.info(
            "%s: refused %r from %s: %s",
            book.key,
            release.title,
            release.indexer,
            why.replace("_", " "),
            extra={
                "event": "release.refused",
                "stage": "choice",
                "reason": why,
                "release": release.title,
                "indexer": release.indexer,
            },
        )
