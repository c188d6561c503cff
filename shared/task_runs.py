"""A job run, as the record sees it: "task started", then "task finished" with counts.

    async with task_run(producer, "SERIES", producer_name="discovery") as run:
        run.processed += 1
        ...

An exception inside the block finishes the run as failed, with the error, and is raised
again: the caller decides what a failed run means for the service. A run cancelled
because its service stops is finished as failed ("the service stopped"), not left running.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from shared import events as ev
from shared.logs import log_context

logger = logging.getLogger(__name__)

LOG_KEPT = 60_000
"""Characters of a run's log the "task finished" carries (the event allows 65,536): a
run over a large library notes thousands of lines; the first and the last are kept."""


class Publisher(Protocol):
    """Anything that can publish events (the Kafka producer; a list in unit tests)."""

    async def publish(self, event: ev.Event[Any], /) -> object:
        """Publish one event and wait for the acknowledgement."""
        ...

    async def publish_many(self, events: Iterable[ev.Event[Any]], /) -> object:
        """Publish many events and wait until every one is acknowledged."""
        ...


@dataclass
class HeldEvents:
    """A `Publisher` that holds what is published, to be sent together later (one
    acknowledged batch instead of a round trip to Kafka per item), or looked at."""

    events: list[ev.Event[Any]] = field(default_factory=list)

    async def publish(self, event: ev.Event[Any], /) -> object:
        """Hold one event."""
        self.events.append(event)
        return None

    async def publish_many(self, events: Iterable[ev.Event[Any]], /) -> object:
        """Hold several events."""
        self.events.extend(events)
        return None

    async def send_to(self, publisher: Publisher) -> None:
        """Publish what is held, in order, and hold nothing more."""
        held, self.events = self.events, []
        if held:
            await publisher.publish_many(held)


@dataclass
class TaskRun:
    """Counts and notes a job accumulates while it runs."""

    run_id: uuid.UUID
    task_name: str
    correlation_id: uuid.UUID
    processed: int = 0
    succeeded: int = 0
    failed: int = 0
    log: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def note(self, line: str) -> None:
        """Add a line to the run's log output (kept for humans in the tasks table)."""
        self.log.append(line)
        logger.info(
            "%s: %s", self.task_name, line, extra={"event": "task.note", "task": self.task_name}
        )


@asynccontextmanager
async def task_run(
    publisher: Publisher,
    task_name: str,
    *,
    producer_name: str,
    scheduled_time: datetime | None = None,
    correlation_id: uuid.UUID | None = None,
) -> AsyncIterator[TaskRun]:
    """Announce a run, yield its counters, announce how it ended."""
    run = TaskRun(uuid.uuid4(), task_name, correlation_id or uuid.uuid4())
    started = ev.TaskStartedPayload(
        run_id=run.run_id,
        task_name=task_name,
        scheduled_time=scheduled_time,
        started_at=ev.utc_now(),
    )
    await publisher.publish(
        ev.TaskStarted.create(started, producer=producer_name, correlation_id=run.correlation_id)
    )
    with log_context(task=task_name, correlation_id=str(run.correlation_id)):
        logger.debug("%s started", task_name, extra={"event": "task.started"})
        try:
            yield run
        except Exception as error:
            await _finish(publisher, run, producer_name, error)
            raise
        except asyncio.CancelledError:
            # The service is stopping: say so, rather than leave the run "running" for ever.
            await _finish(publisher, run, producer_name, InterruptedError("the service stopped"))
            raise
        await _finish(publisher, run, producer_name, None)


async def _finish(
    publisher: Publisher, run: TaskRun, producer_name: str, error: Exception | None
) -> None:
    finished = ev.TaskFinishedPayload(
        run_id=run.run_id,
        task_name=run.task_name,
        outcome=ev.TaskOutcome.FAILED if error else ev.TaskOutcome.COMPLETED,
        finished_at=ev.utc_now(),
        items_processed=run.processed,
        items_succeeded=run.succeeded,
        items_failed=run.failed,
        log_output=_log_text(run.log),
        error_message=f"{type(error).__name__}: {error}" if error else None,
        details=run.details,
    )
    await publisher.publish(
        ev.TaskFinished.create(finished, producer=producer_name, correlation_id=run.correlation_id)
    )
    logger.log(
        logging.WARNING if error else logging.INFO,
        "%s %s: %d processed, %d succeeded, %d failed%s",
        run.task_name,
        finished.outcome.value.lower(),
        run.processed,
        run.succeeded,
        run.failed,
        f" ({finished.error_message})" if error else "",
        extra={
            "event": "task.finished",
            "outcome": finished.outcome.value,
            "processed": run.processed,
            "succeeded": run.succeeded,
            "failed": run.failed,
        },
    )


def _log_text(lines: list[str]) -> str | None:
    """The run's log, its middle left out when it is too long for the event."""
    text = "\n".join(lines)
    if len(text) <= LOG_KEPT:
        return text or None
    half = LOG_KEPT // 2
    return f"{text[:half]}\n… {len(text) - LOG_KEPT} characters left out …\n{text[-half:]}"
