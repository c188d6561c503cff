"""Column types and column shorthands every model uses.

Timestamps are `timestamptz` holding UTC. The seed's examples pass naive
`datetime.now()`: a naive value is read as local time and converted, never rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, func, text
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.orm import MappedColumn, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """`timestamptz` that accepts naive (local) or aware values and returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; a naive value is taken as local time, like `datetime.astimezone`."""
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored instant as an aware UTC datetime."""
        return None if value is None else value.astimezone(UTC)


def timestamp(**kwargs: Any) -> MappedColumn[Any]:
    """A nullable UTC timestamp column."""
    return mapped_column(UTCDateTime(), **kwargs)


def created_timestamp(**kwargs: Any) -> MappedColumn[Any]:
    """A UTC timestamp defaulting to the database's `now()`."""
    return mapped_column(UTCDateTime(), server_default=func.now(), **kwargs)


def updated_timestamp(**kwargs: Any) -> MappedColumn[Any]:
    """A UTC timestamp set to `now()` on insert and on every ORM update."""
    return mapped_column(UTCDateTime(), server_default=func.now(), onupdate=func.now(), **kwargs)


def counter(**kwargs: Any) -> MappedColumn[Any]:
    """An integer defaulting to 0, in Python and in the database."""
    return mapped_column(default=0, server_default=text("0"), **kwargs)


def json_object(name: str | None = None, **kwargs: Any) -> MappedColumn[Any]:
    """A JSONB object defaulting to `{}`, in Python and in the database."""
    if name is not None:
        kwargs["name"] = name
    return mapped_column(JSONB(), default=dict, server_default=text("'{}'::jsonb"), **kwargs)


def merge_versions() -> MappedColumn[Any]:
    """The recorder's merge versions of the row (`services.recorder.entities`): which
    event last set each column group. Internal bookkeeping, deferred from ORM loads."""
    return mapped_column(JSON(), nullable=True, deferred=True)
