"""Fixtures: the real local stack (Kafka + PostgreSQL), fresh databases, unique names.

The project's own stack is started unless `KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL`
point elsewhere; then `ABAUTO_TEST_ADMIN_DATABASE_URL` (a role that may CREATE DATABASE)
is needed for the tests that create throwaway databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from tests.support import databases


@dataclass(frozen=True)
class Stack:
    """Where the test infrastructure is."""

    kafka_bootstrap: str
    database_url: str
    admin_database_url: str


NAMESPACE = f"test-{uuid.uuid4().hex[:8]}"
"""This test run's Kafka topic namespace: runs, and benchmarks, never see each other."""


@pytest.fixture(scope="session", autouse=True)
def topic_namespace() -> Iterator[str]:
    """Every setting and child process of this run uses its own topic namespace."""
    os.environ["ABAUTO_KAFKA_TOPIC_NAMESPACE"] = NAMESPACE
    yield NAMESPACE
    os.environ.pop("ABAUTO_KAFKA_TOPIC_NAMESPACE", None)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The running Kafka and PostgreSQL (started here if nothing else is configured)."""
    external_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    external_db = os.environ.get("DATABASE_URL")
    if external_kafka and external_db:
        admin = os.environ.get("ABAUTO_TEST_ADMIN_DATABASE_URL", external_db)
        yield Stack(external_kafka, external_db, admin)
        return
    import devstack

    info = devstack.up()
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = info.kafka_bootstrap
    os.environ["DATABASE_URL"] = info.database_url
    yield Stack(info.kafka_bootstrap, info.database_url, info.admin_database_url)


@pytest.fixture
def unique() -> str:
    """A short unique marker for names, so tests sharing a topic never see each other."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def empty_database(stack: Stack, unique: str) -> AsyncIterator[str]:
    """The URL of a new, empty database owned by the application role; dropped afterwards."""
    async with databases.throwaway(stack, f"t_{unique}") as url:
        yield url


@pytest.fixture
async def raw_connection(empty_database: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection to the throwaway database."""
    connection = await asyncpg.connect(databases.plain(empty_database))
    try:
        yield connection
    finally:
        await connection.close()
