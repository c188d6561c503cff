"""Reading Kafka directly in tests: dead letters, partitions, committed offsets."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from ops.dead_letters import read_topic
from shared import topics
from shared.settings import KafkaSettings


async def partitions_of(kafka: KafkaSettings, topic: str) -> list[TopicPartition]:
    """Every partition of a topic (by wire name)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        return [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    finally:
        await admin.close()


async def dead_letters(
    kafka: KafkaSettings, match: Callable[[bytes], bool]
) -> list[dict[str, Any]]:
    """Every dead letter so far whose original bytes satisfy `match`."""
    records = await read_topic(kafka, kafka.topic(topics.DEAD_LETTER))
    letters = [json.loads(r.value or b"{}") for r in records]
    return [letter for letter in letters if match(base64.b64decode(letter["raw_b64"]))]


async def committed_offset(
    kafka: KafkaSettings, group: str, partition: TopicPartition
) -> int | None:
    """The offset group `group` (wire name) committed for `partition`."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.kafka_bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        result: int | None = await consumer.committed(partition)
        return result
    finally:
        await consumer.stop()
