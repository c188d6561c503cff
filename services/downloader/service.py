"""The downloader process: every wanted book not owned, in flight or downloaded is
pursued (`pursuit.py`) through the indexers and qBittorrent. It also listens to its own
topic for releases blocklisted (by itself, or refused by the importer: the book is then
pursued again with the next candidate) and blocklists cleared.

abauto run downloader        (or: python -m services.downloader)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from services.downloader.attempt import Attempt, AttemptFailed, Timing
from services.downloader.blocklist import Blocklist
from services.downloader.mam import MamIndexer, mam_http_settings
from services.downloader.mam_cookie import MamCookie
from services.downloader.mam_economy import WedgePolicy
from services.downloader.mam_seedbox import SeedboxClock, update_seedbox
from services.downloader.pursuit import Budget, Pursuits
from services.downloader.record import (
    attempts_so_far,
    blocked_releases,
    unfinished,
    why_not_wanted,
)
from services.downloader.release_selection import Blocked, SelectionRules
from services.downloader.settings import DownloaderSettings, IndexerSettings
from services.downloader.torrent_client import QbittorrentClient
from services.downloader.torznab import Indexer, IndexerError, Indexers, TorznabIndexer
from shared import events as ev
from shared import topics
from shared.dependencies import wait_for
from shared.faults import is_transient
from shared.http import HttpError, HttpSettings, PoliteHttp
from shared.messaging import ConsumerLoop, Delivery, dispatch, per_event
from shared.runtime import ServiceContext, run_service, settings_or_exit

logger = logging.getLogger(__name__)

GROUP_ID = "downloader"
MB = 1024 * 1024


class Wants:
    """Turns "missing book identified" and "book requested" into pursuits."""

    def __init__(self, context: ServiceContext, pursuits: Pursuits, blocklist: Blocklist) -> None:
        self._context = context
        self._pursuits = pursuits
        self._blocklist = blocklist

    async def on_wanted(
        self, event: ev.MissingBookIdentified | ev.BookRequested, delivery: Delivery
    ) -> None:
        """Pursue the wanted book, unless there is a reason not to."""
        book = event.payload.book
        if getattr(event.payload, "needs_review", False):
            _skipped(book, "needs_review", "recorded for review, not downloading")
            return
        if self._pursuits.is_pursuing(book):
            _skipped(book, "already_pursued", "already being pursued")
            return
        reason = await why_not_wanted(self._context.engine, book)
        if reason is not None:
            _skipped(book, reason, f"not downloading ({reason})")
            return
        self._pursuits.start(book, correlation=event.correlation_id)

    async def on_blocklisted(self, event: ev.ReleaseBlocklisted, delivery: Delivery) -> None:
        """Never take the release again for the book; if the importer refused it, charge
        the book a failed attempt and pursue it again (once per refusal)."""
        p = event.payload
        self._blocklist.note(p, event.occurred_at)
        if p.stage is not ev.BlockStage.IMPORT or self._pursuits.is_pursuing(p.book):
            return
        if await why_not_wanted(self._context.engine, p.book) == "owned":
            return
        so_far = await attempts_so_far(self._context.engine, p.book)
        if so_far.last is not None and so_far.last >= event.occurred_at:
            logger.info(
                "%s: the refusal of %s is already charged",
                p.book.key,
                p.release_key,
                extra={"event": "release.refusal_already_charged", "release_key": p.release_key},
            )
            return  # a redelivery: the attempt after it was already made
        failure = AttemptFailed(
            p.reason_code,
            f"refused at import: {p.reason}",
            info_hash=p.info_hash,
            source=p.indexer,
            details={"stage": ev.BlockStage.IMPORT.value},
        )
        logger.info(
            "%s: %s refused at import (%s); taking the next",
            p.book.key,
            p.release_key,
            p.reason_code,
            extra={
                "event": "release.refused",
                "stage": "import",
                "reason": p.reason_code,
                "release": p.release_title,
                "release_key": p.release_key,
                "indexer": p.indexer,
            },
        )
        self._pursuits.refused(
            p.book, failure, retry_count=so_far.failed, correlation=event.correlation_id
        )

    async def on_cleared(self, event: ev.BlocklistCleared, delivery: Delivery) -> None:
        """Releases blocklisted for the book before now may be taken again."""
        self._blocklist.cleared(event.payload.book, event.occurred_at)

    async def resume(self) -> int:
        """Pick up what the record shows unfinished and is not being pursued (after a
        restart, or a pursuit that ended early); return how many."""
        resumed = 0
        for work in await unfinished(self._context.engine):
            waiting = work.status == "failed"
            resumed += self._pursuits.start(
                work.book,
                retry_count=work.retry_count,
                not_before=work.next_retry if waiting else None,
            )
        if resumed:
            logger.info(
                "resumed %d unfinished downloads",
                resumed,
                extra={"event": "download.reconciled", "resumed": resumed},
            )
        return resumed

    async def reconcile(self, every_s: float, stop: asyncio.Event) -> None:
        """Resume unfinished work from the record now and every `every_s` seconds."""
        while not stop.is_set():
            try:
                await self.resume()
            except Exception as error:
                if not is_transient(error):
                    raise
                logger.warning(
                    "reconciliation postponed, the record is unavailable: %r",
                    error,
                    extra={"event": "download.reconcile_postponed"},
                )
            with contextlib.suppress(TimeoutError):  # the interval, cut short by a stop
                await asyncio.wait_for(stop.wait(), every_s)


async def update_seedboxes(indexers: Indexers, settings: DownloaderSettings) -> None:
    """At start-up, tell each MyAnonamouse indexer configured for it this seedbox's address
    (`mam_seedbox.py`); the site being away or refusing is logged, never fatal here (a
    refused cookie is then reported by the first search)."""
    for configured in settings.indexers:
        indexer = indexers.named(configured.name)
        if not (configured.dynamic_seedbox and isinstance(indexer, MamIndexer)):
            continue
        file = configured.cookie_file
        clock = SeedboxClock(file.with_name(file.name + ".seedbox") if file else None)
        try:
            outcome = await update_seedbox(indexer, configured.seedbox_url, clock, ev.utc_now())
        except (HttpError, IndexerError) as error:
            outcome = f"failed: {error}"
        logger.info(
            "indexer %s: dynamic seedbox: %s",
            configured.name,
            outcome,
            extra={"event": "indexer.seedbox", "indexer": configured.name, "outcome": outcome},
        )


def _skipped(book: ev.BookRef, reason: str, message: str) -> None:
    logger.info("%s: %s", book.key, message, extra={"event": "download.skipped", "reason": reason})


def _indexers(settings: DownloaderSettings, http: PoliteHttp, context: ServiceContext) -> Indexers:
    async def refused(name: str, error: Exception) -> None:
        """An indexer refused our credentials: readiness says so, and the record has it
        once, as a failure of the indexer — never as a failure of a book."""
        context.conditions.set_refused(f"indexer {name}", str(error)[:300])
        payload = ev.FailureRecordedPayload(
            task_name="INDEXER",
            item_key=f"indexer:{name}"[:600],
            item_name=name[:500],
            reason=str(error)[:500],
            error_code="CREDENTIALS_REFUSED",
        )
        await context.producer.publish(ev.FailureRecorded.create(payload, producer=GROUP_ID))

    return Indexers([_indexer(i, http) for i in settings.indexers], on_refused=refused)


def _indexer(settings: IndexerSettings, http: PoliteHttp) -> Indexer:
    if settings.kind == "mam":
        assert settings.mam_id is not None  # the settings' validator requires it
        return MamIndexer(
            settings.name,
            settings.url,
            MamCookie(settings.mam_id, settings.cookie_file),
            http,
            search_type=settings.search_type,
            ratio_guard=settings.ratio_guard,
            wedges=WedgePolicy(settings.wedge_above_mb, settings.wedges_per_day),
        )
    assert settings.api_key is not None  # the settings' validator requires it
    return TorznabIndexer(
        settings.name, settings.url, settings.api_key, http, categories=settings.categories
    )


def _politeness(settings: IndexerSettings) -> HttpSettings:
    if settings.kind == "mam":
        return mam_http_settings(settings.search_interval_seconds)
    return HttpSettings(rate_per_second=settings.rate_per_second)


def _attempt(
    settings: DownloaderSettings,
    indexers: Indexers,
    context: ServiceContext,
    torrents: QbittorrentClient,
    blocklist: Blocklist,
) -> Attempt:
    rules = SelectionRules(
        format_preference=settings.format_preference,
        min_size_bytes=int(settings.min_size_mb * MB),
        max_size_bytes=int(settings.max_size_mb * MB),
        min_seeders=settings.min_seeders,
        allow_abridged=settings.allow_abridged,
    )
    timing = Timing(
        poll_s=settings.poll_interval_seconds,
        progress_every_s=settings.progress_interval_seconds,
        stall_timeout_s=settings.stall_timeout_seconds,
    )
    return Attempt(
        indexers,
        torrents,
        context.producer,
        rules,
        timing,
        settings.qbittorrent_category,
        settings.qbittorrent_save_path,
        blocklist,
    )


async def downloader_main(context: ServiceContext) -> None:
    """Consume wanted books and pursue them until stopped."""
    settings = context.settings
    assert isinstance(settings, DownloaderSettings)
    per_host = {_host(i.url): _politeness(i) for i in settings.indexers}
    torrents = QbittorrentClient(
        settings.qbittorrent_url, settings.qbittorrent_username, settings.qbittorrent_password
    )
    # One login before any work: a refused password is reported once and never retried
    # (qBittorrent bans an address after a few failed logins).
    if not await wait_for(
        "qBittorrent", torrents.version, stop=context.stop, conditions=context.conditions
    ):
        return
    async with PoliteHttp(per_host=per_host) as http:
        budget = Budget(
            settings.max_retries,
            timedelta(seconds=settings.retry_base_seconds),
            timedelta(seconds=settings.retry_cap_seconds),
        )
        engine = context.engine

        async def recorded(book: ev.BookRef) -> Blocked:
            return await blocked_releases(engine, book)

        blocklist = Blocklist(recorded)
        indexers = _indexers(settings, http, context)
        await update_seedboxes(indexers, settings)
        pursuits = Pursuits(
            _attempt(settings, indexers, context, torrents, blocklist),
            context.producer,
            budget,
            settings.max_concurrent_downloads,
            context.stop,
            context.conditions,
            blocklist=blocklist,
        )
        wants = Wants(context, pursuits, blocklist)
        reconciling = asyncio.create_task(
            wants.reconcile(settings.reconcile_interval_seconds, context.stop)
        )
        loop = ConsumerLoop(
            settings=settings,
            group_id=GROUP_ID,
            topics=(topics.WANTED, topics.DOWNLOADS),
            handler=per_event(
                dispatch(
                    {
                        ev.MissingBookIdentified: wants.on_wanted,
                        ev.BookRequested: wants.on_wanted,
                        ev.ReleaseBlocklisted: wants.on_blocklisted,
                        ev.BlocklistCleared: wants.on_cleared,
                    }
                )
            ),
            producer=context.producer,
            conditions=context.conditions,
        )
        try:
            await loop.run(context.stop)
        finally:
            context.stop.set()
            await reconciling
            await pursuits.close()


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc


def main() -> None:
    """Run the downloader until SIGTERM/SIGINT."""
    asyncio.run(
        run_service(
            "downloader", settings_or_exit(DownloaderSettings, "downloader"), downloader_main
        )
    )
