"""Least-privilege database roles: a writer for the recorder, and a SELECT-only login role
of its own for each reading service (discovery, downloader, importer).

One role per reader, not one shared: PostgreSQL lets a role change its own password and
end any session of its own role (`pg_terminate_backend`), so a shared reader role would
let one service lock the others out or cut their connections.

Run as the schema owner (the role that runs migrations), after `abauto db upgrade`::

    ABAUTO_WRITER_PASSWORD=… ABAUTO_DISCOVERY_PASSWORD=… ABAUTO_DOWNLOADER_PASSWORD=… \
    ABAUTO_IMPORTER_PASSWORD=… abauto db create-roles

Default privileges make tables added by later migrations follow the same rules.
"""

from __future__ import annotations

import asyncpg
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.settings import DatabaseSettings

IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"


READER_SERVICES = ("discovery", "downloader", "importer")


class RoleSettings(BaseSettings):
    """Names and passwords of the application roles: the writer and one per reader."""

    model_config = SettingsConfigDict(
        env_prefix="ABAUTO_", extra="ignore", hide_input_in_errors=True
    )

    writer_role: str = Field(default="abauto_writer", pattern=IDENTIFIER)
    writer_password: SecretStr = Field(min_length=12)
    discovery_role: str = Field(default="abauto_discovery", pattern=IDENTIFIER)
    discovery_password: SecretStr = Field(min_length=12)
    downloader_role: str = Field(default="abauto_downloader", pattern=IDENTIFIER)
    downloader_password: SecretStr = Field(min_length=12)
    importer_role: str = Field(default="abauto_importer", pattern=IDENTIFIER)
    importer_password: SecretStr = Field(min_length=12)

    @model_validator(mode="after")
    def _one_role_each(self) -> RoleSettings:
        names = self.all_roles()
        if len(set(names)) != len(names):
            raise ValueError("the writer and each reading service need roles of their own")
        return self

    def readers(self) -> dict[str, tuple[str, SecretStr]]:
        """Each reading service's role name and password."""
        return {
            "discovery": (self.discovery_role, self.discovery_password),
            "downloader": (self.downloader_role, self.downloader_password),
            "importer": (self.importer_role, self.importer_password),
        }

    def all_roles(self) -> list[str]:
        """Every role name, the writer first."""
        return [self.writer_role, *(role for role, _ in self.readers().values())]


WRITER_GRANTS = (
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
)
READER_GRANTS = (
    "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {role}",
)


def plain_dsn(database: DatabaseSettings) -> str:
    """The DATABASE_URL in the form asyncpg itself accepts."""
    return database.database_url.get_secret_value().replace("+asyncpg", "", 1)


async def _upsert_login_role(connection: asyncpg.Connection, role: str, password: str) -> None:
    exists = await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    verb = "ALTER" if exists else "CREATE"
    # format() quotes the identifier and the literal server-side: no SQL built by hand.
    # New roles are NOSUPERUSER NOCREATEDB NOCREATEROLE by default; saying so again would
    # need superuser rights the schema owner should not have.
    statement = await connection.fetchval(
        f"SELECT format('{verb} ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)",
        role,
        password,
    )
    await connection.execute(statement)


async def _grant(connection: asyncpg.Connection, role: str, grants: tuple[str, ...]) -> None:
    quoted = await connection.fetchval("SELECT quote_ident($1)", role)
    database = await connection.fetchval("SELECT quote_ident(current_database())")
    await connection.execute(f"GRANT CONNECT ON DATABASE {database} TO {quoted}")
    await connection.execute(f"GRANT USAGE ON SCHEMA public TO {quoted}")
    for grant in grants:
        await connection.execute(grant.format(role=quoted))


async def create_roles(database: DatabaseSettings, roles: RoleSettings) -> None:
    """Create or update every role and its grants, idempotently."""
    connection = await asyncpg.connect(plain_dsn(database))
    try:
        async with connection.transaction():
            await _upsert_login_role(
                connection, roles.writer_role, roles.writer_password.get_secret_value()
            )
            await _grant(connection, roles.writer_role, WRITER_GRANTS)
            for role, password in roles.readers().values():
                await _upsert_login_role(connection, role, password.get_secret_value())
                await _grant(connection, role, READER_GRANTS)
    finally:
        await connection.close()
