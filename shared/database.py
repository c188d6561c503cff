"""The declarative base, the async engine and the session factory.

Usage (the seed's examples, translated to async)::

    async with get_db() as db:
        db.add(Book(title="The Name of the Wind"))
        await db.commit()

Only the recorder writes; other services connect each with a read-only role of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import (
    AsyncAttrs,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from shared.settings import DatabaseSettings

# Deterministic constraint names, so Alembic migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(AsyncAttrs, DeclarativeBase):
    """Base of every model; `AsyncAttrs` gives `await obj.awaitable_attrs.<relationship>`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Fetch server-generated values (defaults, onupdate timestamps) with RETURNING,
    # so reading them after a flush never needs lazy IO, which async code cannot do.
    __mapper_args__: Any = {"eager_defaults": True}  # noqa: RUF012  (declarative reads it)


_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def create_engine_from(settings: DatabaseSettings) -> AsyncEngine:
    """Create an async engine for the given settings (the caller disposes it)."""
    return create_async_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.database_pool_size,
        pool_pre_ping=True,
        echo=settings.database_echo,
        json_serializer=lambda value: orjson.dumps(value).decode(),
        json_deserializer=orjson.loads,
    )


def get_engine() -> AsyncEngine:
    """The process-wide engine, created on first use from `DATABASE_URL`."""
    global _engine
    if _engine is None:
        _engine = create_engine_from(DatabaseSettings())
    return _engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    """The process-wide session factory bound to `get_engine()`."""
    global _sessionmaker
    if _sessionmaker is None:
        _sessionmaker = async_sessionmaker(get_engine(), expire_on_commit=False)
    return _sessionmaker


@asynccontextmanager
async def get_db() -> AsyncIterator[AsyncSession]:
    """Yield a session; roll back whatever was not committed, then close it."""
    async with get_sessionmaker()() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise


async def init_db() -> None:
    """Create every table from the models (tests and quick starts; production uses Alembic)."""
    import shared.models  # noqa: F401  (registers every model on Base.metadata)

    async with get_engine().begin() as connection:
        await connection.run_sync(Base.metadata.create_all)


async def dispose_engine() -> None:
    """Close the process-wide engine's connections (call at shutdown)."""
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine, _sessionmaker = None, None
