"""Least privilege: the recorder's writer role writes; each reading service has a
SELECT-only role of its own, which can neither write nor touch another reader's sessions
or password."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy.engine import make_url

from ops.database_roles import READER_SERVICES, RoleSettings, create_roles
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


@pytest.mark.parametrize("service", READER_SERVICES)
async def test_each_reader_can_select_but_cannot_insert_update_or_delete(
    empty_database: str, roles: RoleSettings, service: str
) -> None:
    reader = await _connect_as(empty_database, *roles.readers()[service])
    try:
        assert await reader.fetchval("SELECT count(*) FROM books") == 0
        for statement in WRITES:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.execute(statement)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute("CREATE TABLE public.smuggled (id int)")
    finally:
        await reader.close()


def test_a_role_shared_between_services_is_refused(unique: str) -> None:
    shared_reader = databases.throwaway_roles(unique).model_copy(
        update={"importer_role": f"disc_{unique}"}
    )
    with pytest.raises(ValidationError, match="roles of their own"):
        RoleSettings.model_validate(shared_reader.model_dump())


async def test_a_reader_cannot_end_another_readers_session(
    empty_database: str, roles: RoleSettings
) -> None:
    readers = roles.readers()
    discovery = await _connect_as(empty_database, *readers["discovery"])
    downloader = await _connect_as(empty_database, *readers["downloader"])
    try:
        victim = await downloader.fetchval("SELECT pg_backend_pid()")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await discovery.fetchval("SELECT pg_terminate_backend($1)", victim)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await discovery.fetchval("SELECT pg_cancel_backend($1)", victim)
        assert await downloader.fetchval("SELECT 1") == 1  # still connected
    finally:
        await discovery.close()
        await downloader.close()


async def test_a_reader_cannot_change_another_readers_password(
    empty_database: str, roles: RoleSettings
) -> None:
    importer_role, importer_password = roles.readers()["importer"]
    discovery = await _connect_as(empty_database, *roles.readers()["discovery"])
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await discovery.execute(f"ALTER ROLE {importer_role} PASSWORD 'locked-out-now'")
    finally:
        await discovery.close()
    importer = await _connect_as(empty_database, importer_role, importer_password)
    await importer.close()


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
