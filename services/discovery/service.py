"""The discovery process: reads the library and finds its series' gaps, on a schedule and
whenever a "discovery requested" command arrives.

abauto run discovery        (or: python -m services.discovery)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import date
from urllib.parse import urlsplit

from services.discovery import applying
from services.discovery.author_check import AuthorRun, check_authors
from services.discovery.authors import AuthorPolicy
from services.discovery.catalogue import AudibleCatalogue, catalogue_host
from services.discovery.library_scan import scan_library
from services.discovery.library_sync import LibrarySnapshot
from services.discovery.metadata_check import CorrectionPolicy, check_metadata
from services.discovery.record import author_checks, present_books, reported_gaps
from services.discovery.series_check import check_series
from services.discovery.settings import DiscoverySettings
from shared import corrections_record, topics
from shared import events as ev
from shared.clients.audiobookshelf import AudiobookshelfClient, LibraryItem
from shared.conditions import Conditions
from shared.dependencies import wait_for
from shared.faults import is_refused, is_transient
from shared.http import HttpSettings, PoliteHttp
from shared.messaging import ConsumerLoop, Delivery, RetryPolicy, dispatch, per_event
from shared.runtime import ServiceContext, run_service, settings_or_exit
from shared.task_runs import task_run

logger = logging.getLogger(__name__)

GROUP_ID = "discovery"
PRODUCER = "discovery"
SCHEDULE = "schedule"
"""Who asks for a scheduled run (any other asker is a command: every job runs in full)."""
DEPENDENCY = "Audiobookshelf, the catalogue and the record"
"""What a scheduled run waits for, as readiness names it."""


class Discovery:
    """One discovery run at a time: library scan, then the series, author and metadata
    checks."""

    def __init__(
        self,
        context: ServiceContext,
        library: AudiobookshelfClient,
        catalogue: AudibleCatalogue,
    ) -> None:
        self._context = context
        self._library = library
        self._catalogue = catalogue
        self._one_at_a_time = asyncio.Lock()
        self._snapshot = LibrarySnapshot()
        self._finished: dict[str, float] = {}  # job → when it last ran in full (monotonic)

    def _due(self, job: str, every_hours: float, request: ev.DiscoveryRequestedPayload) -> bool:
        """Whether `job` runs in full now: asked for by a command, or its interval passed
        (the catalogue changes slowly; a re-run on an unchanged library stays cheap)."""
        if request.requested_by != SCHEDULE:
            return True
        last = self._finished.get(job)
        return last is None or time.monotonic() - last >= every_hours * 3600

    async def run(self, request: ev.DiscoveryRequestedPayload | None = None) -> None:
        """Scan the library (LIBRARY_SCAN task), then look for gaps in the series (SERIES
        task) and of the authors (AUTHOR task), then compare each book's metadata with the
        catalogue (METADATA task)."""
        request = request or ev.DiscoveryRequestedPayload(requested_by=SCHEDULE)
        settings = self._context.settings
        assert isinstance(settings, DiscoverySettings)
        producer = self._context.producer
        async with self._one_at_a_time:
            libraries = None

            async def held() -> list[LibraryItem]:
                nonlocal libraries
                if libraries is None:  # read, not kept: what changed is published later
                    synced = await self._snapshot.read(self._library, settings.abs_library_ids)
                    libraries = synced.libraries
                return [i for lib in libraries.values() for i in lib if not i.is_missing]

            engine = self._context.engine
            fresh: frozenset[str] | None = None  # what this run's sync read anew
            if request.library_scan:
                async with task_run(producer, "LIBRARY_SCAN", producer_name=PRODUCER) as run:
                    present = await present_books(engine)
                    synced = await self._snapshot.read(
                        self._library, settings.abs_library_ids, present
                    )
                    libraries, fresh = synced.libraries, synced.fresh
                    await scan_library(libraries, present, producer, run, synced.fresh)
                    self._snapshot.keep(synced)  # published: the next run starts here
            if request.series_check:
                async with task_run(producer, "SERIES", producer_name=PRODUCER) as run:
                    reported = await reported_gaps(engine)
                    await check_series(
                        self._catalogue, await held(), reported, producer, run, date.today()
                    )
            every = settings.author_check_interval_hours
            if request.author_check and self._due("AUTHOR", every, request):
                async with task_run(producer, "AUTHOR", producer_name=PRODUCER) as run:
                    reported = await reported_gaps(engine)
                    await check_authors(
                        self._catalogue, await held(), reported, await author_checks(engine),
                        producer, run, date.today(), author_run(settings),
                    )  # fmt: skip
                self._finished["AUTHOR"] = time.monotonic()
            if request.metadata_check:
                every = settings.metadata_check_interval_hours
                full = fresh is None or self._due("METADATA", every, request)
                async with task_run(producer, "METADATA", producer_name=PRODUCER) as run:
                    books = await held()
                    if not full:
                        books = [b for b in books if b.id in (fresh or ())]
                        run.details["scope"] = "books new or changed since the last sync"
                    known = await corrections_record.statuses(engine)
                    policy = CorrectionPolicy.of(
                        settings.correct_fill_empty, settings.correct_overwrite
                    )
                    await check_metadata(
                        self._catalogue, self._library, books, known, producer, run,
                        policy, date.today(),
                    )  # fmt: skip
                if full:
                    self._finished["METADATA"] = time.monotonic()

    async def on_requested(self, event: ev.DiscoveryRequested, delivery: Delivery) -> None:
        """Serve a "discovery requested" command."""
        await self.run(event.payload)

    async def on_apply_requested(
        self, event: ev.CorrectionApplyRequested, delivery: Delivery
    ) -> None:
        """Serve a "correction apply requested" command."""
        await self._correct(event.payload, applying.APPLY)

    async def on_revert_requested(
        self, event: ev.CorrectionRevertRequested, delivery: Delivery
    ) -> None:
        """Serve a "correction revert requested" command."""
        await self._correct(event.payload, applying.REVERT)

    async def _correct(self, request: ev.CorrectionRequestPayload, step: applying.Step) -> None:
        producer = self._context.producer
        recorded = await corrections_record.latest_step(self._context.engine, request.correction_id)
        reason = applying.refusal(recorded, step)
        if recorded is not None and reason is None:
            done = await applying.carry_out(
                self._library, producer, recorded, step, request.requested_by
            )
            reason = None if done else "the library no longer holds the value it replaces"
        if reason is not None:
            logger.warning(
                "correction %s: %s",
                request.correction_id,
                reason,
                extra={
                    "event": "correction.refused",
                    "correction_id": str(request.correction_id),
                    "reason": reason,
                },
            )
            await producer.publish(applying.failure(request.correction_id, step, reason))


def author_run(settings: DiscoverySettings) -> AuthorRun:
    """The AUTHOR job's policy and budget, from the settings."""
    policy = AuthorPolicy.of(
        allow=settings.author_allow,
        deny=settings.author_deny,
        min_owned=settings.author_min_owned_books,
        max_gaps_per_run=settings.author_max_gaps_per_run,
        released_since=settings.author_released_since,
        review_below=settings.author_review_below,
        priority=settings.author_gap_priority,
    )
    return AuthorRun(policy, authors_per_run=settings.authors_per_run)


async def _scheduled(
    discovery: Discovery, settings: DiscoverySettings, stop: asyncio.Event, conditions: Conditions
) -> None:
    """Run every interval; a run that failed because something was away is tried again
    sooner, with backoff (a failed run is also recorded as a failed task)."""
    interval = settings.discovery_interval_hours * 3600
    due = settings.discovery_on_start
    backoff = first_retry = settings.discovery_retry_seconds
    while not stop.is_set():
        wait = interval
        if due:
            try:
                await discovery.run()
            except Exception as error:
                if is_refused(error):
                    conditions.set_refused(DEPENDENCY, str(error)[:300])
                    return  # nothing more is tried until reconfigured
                if not is_transient(error):  # a bug: recorded as a failed task; next time
                    logger.exception(
                        "scheduled discovery failed", extra={"event": "discovery.failed"}
                    )
                else:
                    conditions.set_away(DEPENDENCY, str(error)[:300])
                    wait, backoff = min(backoff, interval), min(backoff * 2, interval)
            else:
                conditions.clear(DEPENDENCY)
                backoff = first_retry
        due = True
        with contextlib.suppress(TimeoutError):  # the wait passed: run again
            await asyncio.wait_for(stop.wait(), wait)


ABS_RATE_PER_SECOND = 50.0
"""Audiobookshelf is the user's own server and does not rate-limit `/api`: at the
default 5 requests a second, a 20,000-book library (40 pages, 400 batches) took 90 s."""


def discovery_http(settings: DiscoverySettings) -> PoliteHttp:
    """The HTTP client: the catalogue at its configured rate, Audiobookshelf faster."""
    catalogue = HttpSettings(rate_per_second=settings.catalogue_rate_per_second)
    host = urlsplit(catalogue_host(settings.audible_region, settings.audible_base_url)).netloc
    library = HttpSettings(rate_per_second=ABS_RATE_PER_SECOND)
    return PoliteHttp(per_host={host: catalogue, urlsplit(settings.abs_url).netloc: library})


async def discovery_main(context: ServiceContext) -> None:
    """Serve commands and run on schedule until stopped."""
    settings = context.settings
    assert isinstance(settings, DiscoverySettings)
    async with discovery_http(settings) as http:
        library = AudiobookshelfClient(settings.abs_url, settings.abs_api_key, http)
        catalogue = AudibleCatalogue(
            http,
            region=settings.audible_region,
            base_url=settings.audible_base_url,
            cache_ttl_s=settings.catalogue_cache_hours * 3600,
        )

        async def can_read() -> object:
            libraries = tuple(settings.abs_library_ids)
            return await library.check_rights(admin=False, explicit=True, libraries=libraries)

        if not await wait_for(
            "Audiobookshelf", can_read, stop=context.stop, conditions=context.conditions
        ):
            return  # stopped, or the API key was refused: nothing more is tried
        discovery = Discovery(context, library, catalogue)
        commands = ConsumerLoop(
            settings=settings,
            group_id=GROUP_ID,
            topics=(topics.COMMANDS,),
            # A failed run is already recorded as a failed task: not retried here.
            handler=per_event(
                dispatch(
                    {
                        ev.DiscoveryRequested: discovery.on_requested,
                        ev.CorrectionApplyRequested: discovery.on_apply_requested,
                        ev.CorrectionRevertRequested: discovery.on_revert_requested,
                    }
                ),
                RetryPolicy(max_attempts=1),
            ),
            producer=context.producer,
            conditions=context.conditions,
        )
        schedule = asyncio.create_task(
            _scheduled(discovery, settings, context.stop, context.conditions)
        )
        try:
            await commands.run(context.stop)
        finally:
            context.stop.set()
            await schedule


def main() -> None:
    """Run discovery until SIGTERM/SIGINT."""
    asyncio.run(
        run_service("discovery", settings_or_exit(DiscoverySettings, "discovery"), discovery_main)
    )
