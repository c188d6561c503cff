"""Pursuing a wanted book until it is downloaded or given up: attempts, each a DOWNLOAD
task, failures recorded, retries scheduled with backoff (`retries.py`), at most
`max_concurrent_downloads` attempts at a time. A restarted downloader resumes pursuits
from the record (see `service.py`), so a scheduled retry survives a restart; the record
is also reconciled periodically, so a pursuit that ended for any reason is picked up.

What is not the book's fault is never charged to it (`shared.faults`): while qBittorrent
or every indexer is away the attempt waits and starts again, with backoff; if our
credentials are refused, the pursuit parks until the service is reconfigured. An
unexpected error (a bug) is charged as an INTERNAL_ERROR attempt, so the book's record
says what happened and its retry budget still bounds it.

A failure that is the release's fault (`blocklist.RELEASE_FAILURES`) also blocklists the
release for the book, so the next attempt takes the next-best candidate. A release the
importer refused (wrong book, runtime, language, undecodable) arrives as a "release
blocklisted" at stage import: `refused` charges it as a failed attempt of the book and
pursues the next candidate, within the same retry budget.

Each outcome published is counted (`shared.metrics`): attempts completed and failed,
books abandoned, releases blocklisted at download.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.downloader.attempt import AttemptFailed
from services.downloader.blocklist import Blocklist, blocklisting
from services.downloader.retries import retry_decision
from shared import events as ev
from shared.conditions import Conditions
from shared.faults import is_refused, is_transient
from shared.logs import context_with
from shared.metrics import DOWNLOADS, RELEASES_BLOCKLISTED
from shared.task_runs import Publisher, task_run

logger = logging.getLogger(__name__)

PRODUCER = "downloader"
DEPENDENCY = "qBittorrent and the indexers"
"""What an attempt waits for, as readiness names it."""


class Attempts(Protocol):
    """One attempt at downloading a book (`attempt.Attempt`; an in-memory fake in tests)."""

    async def run(
        self, book: ev.BookRef, max_retries: int, correlation: Any
    ) -> ev.DownloadCompletedPayload:
        """Download the book, or raise `AttemptFailed` (or a dependency's error)."""
        ...


@dataclass(frozen=True)
class Budget:
    """How many failed attempts are allowed and how long to wait between them."""

    max_retries: int
    base: timedelta
    cap: timedelta


class Pursuits:
    """Every book being pursued, by natural key: a book is never pursued twice at once."""

    def __init__(
        self,
        attempt: Attempts,
        publisher: Publisher,
        budget: Budget,
        max_concurrent: int,
        stop: asyncio.Event,
        conditions: Conditions | None = None,
        outage_backoff: tuple[float, float] = (2.0, 300.0),
        blocklist: Blocklist | None = None,
    ) -> None:
        self._attempt = attempt
        self._blocklist = blocklist
        self._conditions = conditions or Conditions()
        self._outage_backoff = outage_backoff
        self._publisher = publisher
        self._budget = budget
        self._slots = asyncio.Semaphore(max_concurrent)
        self._stop = stop
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def is_pursuing(self, book: ev.BookRef) -> bool:
        """Whether this book is being pursued right now (attempting or waiting to retry)."""
        return book.key in self._tasks

    def start(
        self,
        book: ev.BookRef,
        *,
        retry_count: int = 0,
        not_before: datetime | None = None,
        correlation: uuid.UUID | None = None,
    ) -> bool:
        """Pursue `book` unless it already is; True if a pursuit started."""
        return self._start(book, retry_count, not_before, correlation, None)

    def refused(
        self,
        book: ev.BookRef,
        failure: AttemptFailed,
        *,
        retry_count: int,
        correlation: uuid.UUID | None = None,
    ) -> bool:
        """Charge a downloaded release the importer refused as the book's failed attempt
        (`retry_count` failures before it), then pursue the book again unless its budget
        is spent; True if a pursuit started."""
        return self._start(book, retry_count, None, correlation, failure)

    def _start(
        self,
        book: ev.BookRef,
        retry_count: int,
        not_before: datetime | None,
        correlation: uuid.UUID | None,
        failed: AttemptFailed | None,
    ) -> bool:
        if book.key in self._tasks:
            return False
        correlation = correlation or uuid.uuid4()
        task = asyncio.create_task(
            self._pursue(book, retry_count, not_before, correlation, failed),
            name=f"pursue {book.key}",
            # every line of the pursuit names the book and the work it belongs to
            context=context_with(book=book.key, correlation_id=str(correlation)),
        )
        self._tasks[book.key] = task
        task.add_done_callback(lambda _: self._tasks.pop(book.key, None))
        return True

    async def close(self) -> None:
        """Stop every pursuit (a restart resumes them from the record)."""
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def wait_idle(self) -> None:
        """Return once nothing is being pursued (tests, the demo)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def _pursue(
        self,
        book: ev.BookRef,
        retry_count: int,
        not_before: datetime | None,
        correlation: uuid.UUID,
        failed: AttemptFailed | None,
    ) -> None:
        logger.info(
            "%s: pursuing (%d failed attempts so far%s)",
            book.key,
            retry_count,
            f", next not before {not_before.isoformat()}" if not_before else "",
            extra={
                "event": "download.pursuing",
                "retry_count": retry_count,
                "not_before": not_before.isoformat() if not_before else None,
            },
        )
        try:
            while await self._until(not_before):
                failure = failed or await self._one_attempt_or_wait(book, correlation)
                failed = None
                if failure is None:
                    return
                retry_count += 1
                decision = retry_decision(
                    retry_count,
                    self._budget.max_retries,
                    ev.utc_now(),
                    self._budget.base,
                    self._budget.cap,
                )
                await self._failed(book, failure, decision, correlation)
                if not decision.will_retry:
                    await self._abandoned(book, failure, retry_count, correlation)
                    return
                not_before = decision.next_retry_at
        except Exception:
            # E.g. Kafka away while publishing the outcome: the record still shows the
            # book unfinished, and the next reconciliation (service.py) resumes it.
            logger.exception(
                "pursuit of %s broke; the next reconciliation resumes it",
                book.key,
                extra={"event": "download.interrupted"},
            )

    async def _one_attempt_or_wait(
        self, book: ev.BookRef, correlation: uuid.UUID
    ) -> AttemptFailed | None:
        """One attempt, started again for as long as what it needs is away; None once
        downloaded (or stopped), else the book's failure."""
        backoff, longest = self._outage_backoff
        while not self._stop.is_set():
            try:
                outcome = await self._one_attempt(book, correlation)
            except Exception as error:
                if is_refused(error):
                    self._conditions.set_refused(DEPENDENCY, str(error)[:300])
                    await self._stop.wait()  # nothing more is tried until reconfigured
                    return None
                if not is_transient(error):
                    logger.exception(
                        "unexpected error pursuing %s",
                        book.key,
                        extra={"event": "download.internal_error"},
                    )
                    return AttemptFailed("INTERNAL_ERROR", f"{type(error).__name__}: {error}")
                self._conditions.set_away(DEPENDENCY, str(error)[:300])
                logger.info(
                    "%s waits %.0fs for %s",
                    book.key,
                    backoff,
                    DEPENDENCY,
                    extra={
                        "event": "download.waiting",
                        "dependency": DEPENDENCY,
                        "wait_s": backoff,
                    },
                )
            else:
                self._conditions.clear(DEPENDENCY)
                return outcome
            await self._until(ev.utc_now() + timedelta(seconds=backoff))
            backoff = min(backoff * 2, longest)
        return None

    async def _one_attempt(self, book: ev.BookRef, correlation: uuid.UUID) -> AttemptFailed | None:
        async with self._slots:
            try:
                async with task_run(
                    self._publisher, "DOWNLOAD", producer_name=PRODUCER, correlation_id=correlation
                ) as run:
                    run.processed = 1
                    run.details["book"] = book.key
                    try:
                        completed = await self._attempt.run(
                            book, self._budget.max_retries, correlation
                        )
                    except AttemptFailed as failure:
                        run.failed = 1
                        run.note(f"{book.title}: {failure}")
                        raise
                    run.succeeded = 1
                    run.note(f"{book.title}: downloaded to {completed.content_path}")
            except AttemptFailed as failure:
                return failure
        await self._publisher.publish(
            ev.DownloadCompleted.create(completed, producer=PRODUCER, correlation_id=correlation)
        )
        logger.info(
            "%s: downloaded %r to %s",
            book.key,
            completed.release_title,
            completed.content_path,
            extra={
                "event": "download.completed",
                "release": completed.release_title,
                "indexer": completed.source,
                "info_hash": completed.info_hash,
                "content_path": completed.content_path,
                "files": len(completed.files),
                "size_bytes": completed.size_bytes,
            },
        )
        DOWNLOADS.labels("completed").inc()
        return None

    async def _failed(
        self,
        book: ev.BookRef,
        failure: AttemptFailed,
        decision: ev.RetryInfo,
        correlation: uuid.UUID,
    ) -> None:
        failed = ev.DownloadFailedPayload(
            book=book,
            error_code=failure.code,
            reason=failure.reason[:500],
            retry=decision,
            info_hash=failure.info_hash,
            source=failure.source,
        )
        events: list[ev.Event[Any]] = [
            ev.DownloadFailed.create(failed, producer=PRODUCER, correlation_id=correlation)
        ]
        if failure.details.get("stage") != ev.BlockStage.IMPORT.value:
            # (a release refused at import is already in the failure record, as IMPORT's)
            recorded = ev.FailureRecordedPayload(
                task_name="DOWNLOAD",
                item_key=book.key,
                item_name=book.title,
                reason=failure.reason[:500],
                error_code=failure.code,
                details={**failure.details, "retry_count": decision.retry_count},
            )
            events.append(
                ev.FailureRecorded.create(recorded, producer=PRODUCER, correlation_id=correlation)
            )
        release = failure.release
        blocked = blocklisting(
            book,
            failure.code,
            failure.reason,
            info_hash=failure.info_hash or (release.info_hash if release else None),
            guid=(release.guid[:1000] or None) if release else None,
            indexer=failure.source,
            release_title=release.title if release else None,
        )
        if blocked is not None:
            event = ev.ReleaseBlocklisted.create(
                blocked, producer=PRODUCER, correlation_id=correlation
            )
            events.append(event)
            if self._blocklist is not None:
                self._blocklist.note(blocked, event.occurred_at)
        await self._publisher.publish_many(events)
        logger.warning(
            "%s: attempt %d failed (%s: %s); %s",
            book.key,
            decision.retry_count,
            failure.code,
            failure.reason,
            f"next attempt after {decision.next_retry_at.isoformat()}"
            if decision.will_retry and decision.next_retry_at
            else "no attempt left",
            extra={
                "event": "download.failed",
                "error_code": failure.code,
                "reason": failure.reason[:500],
                "retry_count": decision.retry_count,
                "will_retry": decision.will_retry,
                "next_retry_at": decision.next_retry_at.isoformat()
                if decision.next_retry_at
                else None,
                "indexer": failure.source,
                "info_hash": failure.info_hash,
            },
        )
        if blocked is not None:
            logger.info(
                "%s: release %s blocklisted for the book (%s)",
                book.key,
                blocked.release_key,
                blocked.reason_code,
                extra={
                    "event": "release.blocklisted",
                    "release_key": blocked.release_key,
                    "release": blocked.release_title,
                    "reason": blocked.reason_code,
                    "indexer": blocked.indexer,
                },
            )
        DOWNLOADS.labels("failed").inc()
        if blocked is not None:
            RELEASES_BLOCKLISTED.labels(blocked.stage.value).inc()

    async def _abandoned(
        self, book: ev.BookRef, failure: AttemptFailed, retry_count: int, correlation: uuid.UUID
    ) -> None:
        payload = ev.DownloadAbandonedPayload(
            book=book,
            error_code=failure.code,
            reason=failure.reason[:500],
            retry_count=retry_count,
        )
        await self._publisher.publish(
            ev.DownloadAbandoned.create(payload, producer=PRODUCER, correlation_id=correlation)
        )
        logger.error(
            "%s: abandoned after %d failed attempts (last: %s)",
            book.key,
            retry_count,
            failure.code,
            extra={
                "event": "download.abandoned",
                "error_code": failure.code,
                "reason": failure.reason[:500],
                "retry_count": retry_count,
            },
        )
        DOWNLOADS.labels("abandoned").inc()

    async def _until(self, moment: datetime | None) -> bool:
        """Wait until `moment` (or not at all); False if the service stops first."""
        if moment is not None:
            delay = (moment - ev.utc_now()).total_seconds()
            if delay > 0:
                with contextlib.suppress(TimeoutError):  # a timer, cut short by stop
                    await asyncio.wait_for(self._stop.wait(), delay)
        return not self._stop.is_set()
