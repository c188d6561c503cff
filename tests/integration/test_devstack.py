"""The local stack really runs: Kafka moves a message, PostgreSQL answers, `up()` is idempotent.

These tests share the stack with every other test, so they never call `devstack.down()`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import devstack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def info() -> devstack.StackInfo:
    """The running stack (started on first use; the first run resolves the Kafka jars)."""
    return devstack.up()


def _plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name=topic, num_partitions=1, replication_factor=1)],
            timeout_ms=10_000,
        )
    finally:
        await admin.close()


async def _delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.delete_topics([topic], timeout_ms=10_000)
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def _consume_one(bootstrap: str, topic: str) -> tuple[bytes | None, bytes | None]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        record = await asyncio.wait_for(consumer.getone(), timeout=DEADLINE_S)
    finally:
        await consumer.stop()
    return record.key, record.value


async def test_kafka_carries_a_message(info: devstack.StackInfo) -> None:
    topic = f"devstack-test-{uuid.uuid4().hex[:10]}"
    await _create_topic(info.kafka_bootstrap, topic)
    try:
        await _produce(info.kafka_bootstrap, topic, b"k", b"hello devstack")
        assert await _consume_one(info.kafka_bootstrap, topic) == (b"k", b"hello devstack")
    finally:
        await _delete_topic(info.kafka_bootstrap, topic)


async def test_postgres_accepts_the_application_role(info: devstack.StackInfo) -> None:
    connection = await asyncpg.connect(_plain_dsn(info.database_url), timeout=DEADLINE_S)
    try:
        assert await connection.fetchval("select 1") == 1
        row = await connection.fetchrow("select current_user, current_database()")
        assert row is not None
        assert tuple(row) == ("abauto", "abauto")
    finally:
        await connection.close()


async def test_admin_url_is_a_superuser_on_the_same_database(info: devstack.StackInfo) -> None:
    connection = await asyncpg.connect(_plain_dsn(info.admin_database_url), timeout=DEADLINE_S)
    try:
        is_superuser = await connection.fetchval(
            "select rolsuper from pg_roles where rolname = current_user"
        )
        assert is_superuser is True
        assert await connection.fetchval("select current_database()") == "abauto"
    finally:
        await connection.close()


def test_urls_point_at_loopback(info: devstack.StackInfo) -> None:
    assert info.kafka_bootstrap.startswith("127.0.0.1:")
    for url, user in ((info.database_url, "abauto"), (info.admin_database_url, "postgres")):
        parts = urlsplit(url)
        assert (parts.scheme, parts.hostname, parts.username, parts.path) == (
            "postgresql+asyncpg",
            "127.0.0.1",
            user,
            "/abauto",
        )


def test_up_again_returns_the_same_stack_quickly(info: devstack.StackInfo) -> None:
    started = time.monotonic()
    again = devstack.up()
    assert time.monotonic() - started < 2.0
    assert again == info


def test_status_reports_running_services_without_secrets(info: devstack.StackInfo) -> None:
    report = devstack.status()
    kafka, postgres = report["kafka"], report["postgres"]
    assert isinstance(kafka, dict)
    assert isinstance(postgres, dict)
    assert kafka["running"] is True
    assert postgres["running"] is True
    assert f"127.0.0.1:{kafka['port']}" == info.kafka_bootstrap
    text = json.dumps(report, default=str)
    for url in (info.database_url, info.admin_database_url):
        password = urlsplit(url).password
        assert password
        assert password not in text
