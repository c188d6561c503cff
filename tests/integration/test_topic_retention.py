"""Topics keep messages as long as ABAUTO_TOPIC_RETENTION_DAYS says, on the real broker:
the recorder's duplicate detection remembers event ids only a little longer than that."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from shared import topics
from shared.messaging import ensure_topics
from shared.settings import MS_PER_DAY, KafkaSettings
from tests.conftest import Stack

pytestmark = pytest.mark.integration

SOME = (topics.LIBRARY, topics.WANTED)


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def kafka(
    stack: Stack, admin: AIOKafkaAdminClient, unique: str
) -> AsyncIterator[KafkaSettings]:
    """Settings in a namespace of this test's own, whose topics are deleted afterwards."""
    settings = KafkaSettings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        kafka_topic_namespace=f"retention-{unique}",
        topic_retention_days=3,
    )
    yield settings
    present = set(await admin.list_topics())
    await admin.delete_topics([settings.topic(t) for t in SOME if settings.topic(t) in present])


async def _configs(admin: AIOKafkaAdminClient, name: str) -> dict[str, str]:
    (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    ((_, _, _, _, entries),) = response.resources
    return {entry[0]: entry[1] for entry in entries}


async def test_topics_are_created_with_the_configured_retention(
    kafka: KafkaSettings, admin: AIOKafkaAdminClient
) -> None:
    created = await ensure_topics(kafka, SOME)
    assert sorted(created) == sorted(kafka.topic(t) for t in SOME)
    for name in created:
        assert (await _configs(admin, name))["retention.ms"] == str(3 * MS_PER_DAY)


async def test_an_existing_topic_with_another_retention_is_corrected_once_keeping_overrides(
    kafka: KafkaSettings, admin: AIOKafkaAdminClient, caplog: pytest.LogCaptureFixture
) -> None:
    forever = kafka.topic(topics.LIBRARY)
    overrides = {"retention.ms": "-1", "max.message.bytes": "2000000"}
    await admin.create_topics([NewTopic(forever, 1, 1, topic_configs=overrides)])
    with caplog.at_level(logging.WARNING, logger="shared.messaging"):
        assert await ensure_topics(kafka, SOME) == [kafka.topic(topics.WANTED)]
        assert await ensure_topics(kafka, SOME) == []  # now right: nothing more to say
    configs = await _configs(admin, forever)
    assert configs["retention.ms"] == str(3 * MS_PER_DAY)
    assert configs["max.message.bytes"] == "2000000"
    (warning,) = caplog.records
    assert f"{forever} (was -1)" in warning.getMessage()
    assert "ABAUTO_TOPIC_RETENTION_DAYS" in warning.getMessage()
