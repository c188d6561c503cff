"""Least privilege: the recorder's writer role writes; the read-only role only reads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from shared.database_roles import RoleSettings, create_roles
from shared.settings import DatabaseSettings
from tests.conftest import Stack
from tests.support import databases

pytestmark = pytest.mark.integration

WRITES = [
    "INSERT INTO books (title) VALUES ('Mistborn')",
    "UPDATE books SET title = 'x'",
    "DELETE FROM books",
]


@pytest.fixture
async def roles(stack: Stack, empty_database: str, unique: str) -> AsyncIterator[RoleSettings]:
    settings = databases.throwaway_roles(unique)
    async with databases.using(empty_database):
        await databases.migrate()
        database = DatabaseSettings()
        await create_roles(database, settings)
        await create_roles(database, settings)  # idempotent: a second run changes nothing
    yield settings
    await databases.drop_roles(stack, empty_database, settings)


async def _connect_as(url: str, role: str, password: SecretStr) -> asyncpg.Connection:
    target = make_url(url).set(username=role, password=password.get_secret_value())
    return await asyncpg.connect(databases.plain(target.render_as_string(hide_password=False)))


async def test_reader_can_select_but_cannot_insert_update_or_delete(
    empty_database: str, roles: RoleSettings
) -> None:
    reader = await _connect_as(empty_database, roles.reader_role, roles.reader_password)
    try:
        assert await reader.fetchval("SELECT count(*) FROM books") == 0
        for statement in WRITES:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.execute(statement)
    finally:
        await reader.close()


async def test_writer_can_write_every_table_but_not_change_the_schema(
    empty_database: str, roles: RoleSettings
) -> None:
    writer = await _connect_as(empty_database, roles.writer_role, roles.writer_password)
    try:
        for statement in WRITES:
            await writer.execute(statement)
        await writer.execute(
            "INSERT INTO failed_attempts (task_name, reason, last_attempt) "
            "VALUES ('DOWNLOAD', 'r', now())"
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await writer.execute("DROP TABLE books")
    finally:
        await writer.close()
