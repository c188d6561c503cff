"""The database being away is told apart from the database refusing data, however wrapped."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy.exc
from asyncpg.exceptions import _base as asyncpg_base

from shared.database_errors import is_database_away


def _as_sqlalchemy_wraps_it(cause: BaseException) -> sqlalchemy.exc.DBAPIError:
    """The shape SQLAlchemy's asyncpg dialect raises: DBAPIError(orig=adapter error),
    the adapter error raised `from` the driver's own."""
    adapter = Exception(str(cause))
    adapter.__cause__ = cause
    return sqlalchemy.exc.DBAPIError("connect", None, adapter)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        ConnectionRefusedError(111, "Connect call failed"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
        asyncpg_base.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        ),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_trouble_is_away_even_wrapped(error: BaseException) -> None:
    assert is_database_away(error)
    assert is_database_away(_as_sqlalchemy_wraps_it(error))


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.exceptions.NumericValueOutOfRangeError("out of range for type integer"),
        asyncpg.exceptions.StringDataRightTruncationError("value too long"),
        asyncpg_base.DataError("invalid input for query argument $1"),
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_refused_data_and_bugs_are_not_away(error: BaseException) -> None:
    assert not is_database_away(error)
    assert not is_database_away(_as_sqlalchemy_wraps_it(error))
