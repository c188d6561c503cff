"""The recorder's batch handler: one transaction per polled batch.

Fast path: the whole batch in one transaction. If the database refuses it (a value it
cannot store…), each event is applied again in a savepoint of its own, the refused ones
are rejected (dead-lettered with the reason) and the rest commits. When the database is
away (see `shared.database_errors`), `DatabaseUnavailableError` tells the consumer loop
to hand the same batch back, with backoff, until PostgreSQL answers again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import asyncpg
from asyncpg.exceptions import _base as asyncpg_base
from sqlalchemy.ext.asyncio import AsyncEngine

from services.recorder.projection import UnapplicableEventError, project, touches
from services.recorder.store import Store
from shared.database_errors import DatabaseUnavailableError, is_database_away
from shared.logs import log_context
from shared.messaging import Received, Rejected

logger = logging.getLogger(__name__)

TRANSIENT: tuple[type[BaseException], ...] = (DatabaseUnavailableError,)
"""What the consumer loop retries, batch unchanged, until PostgreSQL is back."""

REFUSED: tuple[type[Exception], ...] = (asyncpg.PostgresError, asyncpg_base.DataError)
"""The server, or the driver before sending, refused something (unless it is away)."""


class BatchRecorder:
    """Applies batches of events to PostgreSQL, exactly once in effect."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, batch: Sequence[Received]) -> Sequence[Rejected]:
        """Record a batch; return the events that can never be applied."""
        try:
            return await self._record(list({r.event.event_id: r for r in batch}.values()))
        except Exception as error:
            if is_database_away(error):
                raise DatabaseUnavailableError(str(error)) from error
            raise

    async def _record(self, unique: list[Received]) -> Sequence[Rejected]:
        try:
            return await self._in_one_transaction(unique)
        except REFUSED as error:
            if is_database_away(error):
                raise
            logger.warning("batch of %d refused (%r); applying one by one", len(unique), error)
            return await self._one_by_one(unique)

    async def _in_one_transaction(self, batch: list[Received]) -> list[Rejected]:
        async with self._engine.connect() as connection:
            raw: Any = (await connection.get_raw_connection()).driver_connection
            async with raw.transaction():
                return await _apply(Store(raw), batch)

    async def _one_by_one(self, batch: list[Received]) -> list[Rejected]:
        rejected: list[Rejected] = []
        async with self._engine.connect() as connection:
            raw: Any = (await connection.get_raw_connection()).driver_connection
            async with raw.transaction():
                for received in batch:
                    try:
                        async with raw.transaction():  # a savepoint
                            rejected += await _apply(Store(raw), [received])
                    except REFUSED as error:
                        if is_database_away(error):
                            raise
                        rejected.append(Rejected(received, error))
        return rejected


async def _apply(store: Store, batch: list[Received]) -> list[Rejected]:
    """Claim, lock, load, project and save, inside the caller's transaction."""
    fresh_ids = await store.claim([r.event for r in batch])
    fresh = [r for r in batch if r.event.event_id in fresh_ids]
    if not fresh:
        return []
    await store.lock()  # before reading, so no other writer merges these rows meanwhile
    view = await store.load([key for r in fresh for key in touches(r.event)])
    rejected: list[Rejected] = []
    for received in fresh:
        try:
            project(received.event, view)
        except UnapplicableEventError as error:
            with log_context(**received.log_fields()):
                logger.error("event cannot be applied: %s", error)
            rejected.append(Rejected(received, error))
    if rejected:
        await store.unclaim(r.received.event.event_id for r in rejected)
    await store.save(view)
    return rejected
