"""Throwaway PostgreSQL databases for tests that need an empty or freshly migrated one."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import asyncpg
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from ops import migration_runner
from ops.database_roles import RoleSettings
from shared import database


class StackLike(Protocol):
    """The addresses a test needs (see `tests.conftest.Stack`)."""

    @property
    def database_url(self) -> str:
        """The application role's URL."""
        ...

    @property
    def admin_database_url(self) -> str:
        """A role allowed to create databases."""
        ...


def plain(url: str) -> str:
    """The URL in the form asyncpg accepts."""
    return url.replace("+asyncpg", "", 1)


@asynccontextmanager
async def throwaway(stack: StackLike, name: str) -> AsyncIterator[str]:
    """Create database `name` owned by the application role; drop it on exit."""
    owner = make_url(stack.database_url).username
    await _as_admin(stack, f'CREATE DATABASE "{name}" OWNER "{owner}"')
    try:
        url = make_url(stack.database_url).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        await database.dispose_engine()
        # A fresh connection: the server may have been restarted meanwhile.
        await _as_admin(stack, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _as_admin(stack: StackLike, statement: str) -> None:
    admin = await asyncpg.connect(plain(stack.admin_database_url))
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


@asynccontextmanager
async def using(url: str) -> AsyncIterator[None]:
    """Point `DATABASE_URL` (and the process-wide engine) at `url` for the block."""
    previous = os.environ.get("DATABASE_URL")
    await database.dispose_engine()
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        await database.dispose_engine()
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous


async def migrate(revision: str = "head") -> None:
    """Run `abauto db upgrade` on the current `DATABASE_URL` (Alembic runs its own loop)."""
    await asyncio.to_thread(migration_runner.upgrade, revision)


def throwaway_roles(unique: str) -> RoleSettings:
    """A writer and one reader role per reading service, with names and passwords of their own."""
    return RoleSettings(
        writer_role=f"w_{unique}",
        writer_password=SecretStr(f"pw-{unique}-writer"),
        discovery_role=f"disc_{unique}",
        discovery_password=SecretStr(f"pw-{unique}-discovery"),
        downloader_role=f"down_{unique}",
        downloader_password=SecretStr(f"pw-{unique}-downloader"),
        importer_role=f"imp_{unique}",
        importer_password=SecretStr(f"pw-{unique}-importer"),
    )


async def drop_roles(stack: StackLike, url: str, roles: RoleSettings) -> None:
    """Drop the roles (and their grants) that `create_roles` made on database `url`."""
    admin_url = make_url(stack.admin_database_url).set(database=make_url(url).database)
    admin = await asyncpg.connect(plain(admin_url.render_as_string(False)))
    try:
        for role in roles.all_roles():
            await admin.execute(f'DROP OWNED BY "{role}"')
            await admin.execute(f'DROP ROLE "{role}"')
    finally:
        await admin.close()
