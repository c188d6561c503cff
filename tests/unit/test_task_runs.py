"""Every job run is announced and finished, however it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest

from shared import events as ev
from shared.task_runs import task_run


class Published(list[ev.Event[Any]]):
    async def publish(self, event: ev.Event[Any], /) -> None:
        self.append(event)

    async def publish_many(self, events: Iterable[ev.Event[Any]], /) -> None:
        self.extend(events)


def finished(published: Published) -> ev.TaskFinishedPayload:
    [event] = [e for e in published if isinstance(e, ev.TaskFinished)]
    assert isinstance(event, ev.TaskFinished)
    return event.payload


async def test_a_run_reports_its_counts() -> None:
    published = Published()
    async with task_run(published, "SERIES", producer_name="t") as run:
        run.processed, run.succeeded = 3, 2
        run.note("two of three")
    outcome = finished(published)
    assert (outcome.outcome, outcome.items_processed, outcome.items_succeeded) == (
        ev.TaskOutcome.COMPLETED, 3, 2,
    )  # fmt: skip
    assert outcome.log_output == "two of three"
    assert isinstance(published[0], ev.TaskStarted)
    assert published[0].payload.run_id == outcome.run_id


async def test_a_run_over_a_large_library_keeps_the_first_and_last_of_its_log() -> None:
    published = Published()
    async with task_run(published, "SERIES", producer_name="t") as run:
        for n in range(5000):
            run.note(f"gap: The Lantern Keepers #{n} The Glass Orchard {n}")
    log = finished(published).log_output
    assert log is not None
    assert log.startswith("gap: The Lantern Keepers #0 ")
    assert log.endswith("The Glass Orchard 4999")
    assert "characters left out" in log


async def test_a_failing_run_is_finished_as_failed_and_raises() -> None:
    published = Published()
    with pytest.raises(ValueError, match="boom"):
        async with task_run(published, "IMPORT", producer_name="t"):
            raise ValueError("boom")
    outcome = finished(published)
    assert (outcome.outcome, outcome.error_message) == (ev.TaskOutcome.FAILED, "ValueError: boom")


async def test_a_run_cancelled_by_a_stopping_service_is_not_left_running() -> None:
    published = Published()
    entered = asyncio.Event()

    async def job() -> None:
        async with task_run(published, "DOWNLOAD", producer_name="t"):
            entered.set()
            await asyncio.Event().wait()  # until cancelled

    task = asyncio.create_task(job())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    outcome = finished(published)
    assert outcome.outcome == ev.TaskOutcome.FAILED
    assert outcome.error_message == "InterruptedError: the service stopped"
