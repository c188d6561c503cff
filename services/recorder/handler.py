"""The recorder's batch handler: one transaction per polled batch.

Fast path: the whole batch in one transaction. If the database refuses it (a value it
cannot store…), each event is applied again in a savepoint of its own, the refused ones
are rejected (dead-lettered with the reason) and the rest commits. When the database is
away (see `shared.database_errors`), `DatabaseUnavailableError` tells the consumer loop
to hand the same batch back, with backoff, until PostgreSQL answers again. An event whose
own values cannot be projected or encoded is refused the same way, never the service.
Before any of that, `admission` refuses events dated too far ahead and conflicting
duplicates of an event id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base
from sqlalchemy.ext.asyncio import AsyncEngine

from services.recorder.admission import (
    Admitted,
    admit,
    conflict_error,
    conflicting,
    first_copies,
)
from services.recorder.projection import UnapplicableEventError, View, project, touches
from services.recorder.settings import DEFAULT_MAX_CLOCK_SKEW_SECONDS
from services.recorder.store import Handover, Store
from shared.database_errors import DatabaseUnavailableError, is_database_away
from shared.events import utc_now
from shared.logs import log_context
from shared.messaging import Received, Rejected

logger = logging.getLogger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (DatabaseUnavailableError,)
"""What the consumer loop retries, batch unchanged, until PostgreSQL is back."""

REFUSED: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg_base.DataError)
"""The server, or the driver before sending, refused something (unless it is away)."""

MALFORMED: tuple[type[Exception], ...] = (ValueError, TypeError, OverflowError)
"""What an event's own values raise when projected or encoded (orjson refuses an integer
beyond 64 bits with a TypeError): like a refusal, the batch is retried event by event and
only the event that raises is rejected."""


@dataclass
class _Turn:
    """One batch's place in the pipeline, as the batch after it sees it."""

    claimed: asyncio.Event = field(default_factory=asyncio.Event)
    handover: asyncio.Future[tuple[int, Handover] | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    saved: asyncio.Event = field(default_factory=asyncio.Event)
    broken: bool = False  # what it handed over will not be committed as handed over

    def hand_over(self, generation: int, handover: Handover | None) -> None:
        """Let the next batch build on this one's projected (not yet committed) state."""
        if not self.handover.done():
            self.handover.set_result(None if handover is None else (generation, handover))

    def settle(self) -> None:
        """Whatever happened, release the next batch (with nothing to build on if not set)."""
        self.claimed.set()
        self.hand_over(0, None)
        self.saved.set()


class BatchRecorder:
    """Applies batches of events to PostgreSQL, exactly once in effect.

    Several batches can be in flight, each after its predecessor: it claims its events
    once the predecessor has, projects on top of the predecessor's handed-over state while
    that one writes, and takes its turn (the writer generation) only when the predecessor
    has committed. If the generation is not the predecessor's plus one (it failed, or
    another recorder wrote in between), it reloads and projects again before writing: the
    handover is only a head start.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        max_clock_skew: timedelta = timedelta(seconds=DEFAULT_MAX_CLOCK_SKEW_SECONDS),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._engine = engine
        self._max_skew = max_clock_skew
        self._clock = clock
        self._last: _Turn | None = None

    async def __call__(self, batch: Sequence[Received]) -> Sequence[Rejected]:
        """Record a batch; return the events that can never be applied."""
        previous, turn = self._last, _Turn()
        self._last = turn
        try:
            admitted, refused = admit(batch, self._clock(), self._max_skew)
            _log(refused)
            return [*refused, *await self._record(admitted, previous, turn)]
        except Exception as error:
            turn.broken = True
            if is_database_away(error):
                raise DatabaseUnavailableError(str(error)) from error
            raise
        finally:
            turn.settle()

    async def _record(
        self, unique: list[Admitted], previous: _Turn | None, turn: _Turn
    ) -> Sequence[Rejected]:
        try:
            return await self._in_one_transaction(unique, previous, turn)
        except (*REFUSED, *MALFORMED) as error:
            if is_database_away(error):
                raise
            # Retried event by event below, without the refused ones: whatever the next
            # batch was handed must not be trusted, whatever the generation says.
            turn.broken = True
            turn.settle()
            logger.warning(
                "batch of %d refused (%r); applying one by one",
                len(unique),
                error,
                extra={"event": "record.batch_split", "events": len(unique)},
            )
            return await self._one_by_one(unique)

    async def _in_one_transaction(
        self, batch: list[Admitted], previous: _Turn | None, turn: _Turn
    ) -> list[Rejected]:
        async with self._engine.connect() as connection:
            raw: Any = (await connection.get_raw_connection()).driver_connection
            async with raw.transaction():
                return await _pipelined(Store(raw), batch, previous, turn)

    async def _one_by_one(self, batch: list[Admitted]) -> list[Rejected]:
        rejected: list[Rejected] = []
        async with self._engine.connect() as connection:
            raw: Any = (await connection.get_raw_connection()).driver_connection
            async with raw.transaction():
                for admitted in batch:
                    try:
                        async with raw.transaction():  # a savepoint
                            rejected += await _pipelined(Store(raw), [admitted], None, _Turn())
                    except (*REFUSED, *MALFORMED) as error:
                        if is_database_away(error):
                            raise
                        refused = Rejected(admitted.received, error)
                        _log([refused])
                        rejected.append(refused)
        return rejected


async def _pipelined(
    store: Store, batch: list[Admitted], previous: _Turn | None, turn: _Turn
) -> list[Rejected]:
    """Claim, project (on the previous batch's state when it offers it), take the turn,
    check it, hand over, save: inside the caller's transaction."""
    if previous is not None:
        await previous.claimed.wait()  # never claim an event the previous batch may claim
    first = first_copies(batch)
    claim = await store.claim(first)
    turn.claimed.set()
    conflicts = (  # only a batch with copies of an id, or redeliveries, has any
        [
            Rejected(a.received, conflict_error(a.event.event_id))
            for a in conflicting(batch, claim.recorded)
        ]
        if len(first) < len(batch) or claim.recorded
        else []
    )
    _log(conflicts)
    fresh = [a for a in first if a.event.event_id in claim.fresh]
    if not fresh:
        return conflicts
    keys = [key for a in fresh for key in touches(a.event)]
    offered = await previous.handover if previous is not None else None
    if offered is None:
        generation = await store.take_turn()  # before reading: nobody writes meanwhile
        view = await store.load(keys)
        rejected = _project(fresh, view)
    else:
        base_generation, base = offered
        view = await store.load(keys, base=base)
        rejected = _project(fresh, view)
        assert previous is not None  # an offer comes from a previous batch
        await previous.saved.wait()
        store.adopt(base.ids, view)  # the rows the previous batch has now written
        generation = await store.take_turn()  # waits for the previous batch's commit
        if generation != base_generation + 1 or previous.broken:
            # It failed, or another writer came in between: start again from the database.
            store.ids.clear()
            view = await store.load(keys)
            rejected = _project(fresh, view)
    turn.hand_over(generation, Handover(view, store.ids))
    if rejected:
        await store.unclaim(r.received.event.event_id for r in rejected)
    await store.save(view)
    turn.saved.set()
    return [*conflicts, *rejected]


def _project(fresh: list[Admitted], view: View) -> list[Rejected]:
    rejected: list[Rejected] = []
    for admitted in fresh:
        try:
            project(admitted.event, view)
        except UnapplicableEventError as error:
            rejected.append(Rejected(admitted.received, error))
    _log(rejected)
    return rejected


def _log(rejected: Sequence[Rejected]) -> None:
    """One error line per rejected event, with its ids and position."""
    for refused in rejected:
        with log_context(**refused.received.log_fields()):
            logger.error(
                "event rejected: %s", refused.error, extra={"event": "record.event_rejected"}
            )
