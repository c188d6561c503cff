"""Telling a database that is away from data it refuses.

A connection that cannot be made or was lost, a server shutting down or restarting, a
deadlock: retry later, skip nothing. A value the server (or the driver, before sending)
refuses: retrying changes nothing, so the event it came from is rejected. SQLAlchemy
wraps the driver's errors (`DBAPIError`, `.orig`, `__cause__`), so the chain is walked.
"""

from __future__ import annotations

import asyncpg
import sqlalchemy.exc
from asyncpg.exceptions import _base as asyncpg_base

AWAY: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # "connection is closed"; its DataError subclass is data
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    # A connection whose operation the server cut short ("cannot switch to state …;
    # another operation is in progress"): seen when PostgreSQL goes away mid-batch.
    asyncpg_base.InternalClientError,
)


class DatabaseUnavailableError(Exception):
    """PostgreSQL cannot take the work right now; the same work can be retried later."""


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is seen for seen in chain):
            continue
        chain.append(current)
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return chain


def is_database_away(error: BaseException) -> bool:
    """Whether `error`, or an error it wraps, means the database is unreachable or busy
    rather than refusing the data."""
    chain = _causes(error)
    if any(isinstance(e, asyncpg_base.DataError) for e in chain):
        return False
    return any(
        isinstance(e, AWAY)
        or (isinstance(e, sqlalchemy.exc.DBAPIError) and e.connection_invalidated)
        for e in chain
    )
