"""The dead-letter topic, for operators (`abauto dlq list|show|replay`).

A dead letter carries the original message's bytes, topic and key (`shared.messaging.
dead_letter`). Replaying one publishes those bytes, unchanged, to the original topic
with the original key: the event keeps its id, so the recorder, which remembers every
applied id, still applies it exactly once; the other consumers of that topic see it
again (their handlers are idempotent: a wanted book already pursued is skipped, an
import reuses its own placement). A letter that kept only a prefix of a message larger
than 256 KiB cannot be replayed (that message was refused for its size anyway).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from shared import topics
from shared.messaging.dead_letter import DeadLetter
from shared.settings import KafkaSettings


class LetterRefusedError(LookupError):
    """No such dead letter, or one that cannot be replayed."""


@dataclass(frozen=True)
class Letter:
    """A dead letter and where it is in the dead-letter topic (`id`: partition:offset)."""

    partition: int
    offset: int
    letter: DeadLetter

    @property
    def id(self) -> str:
        """How commands name it."""
        return f"{self.partition}:{self.offset}"

    def line(self) -> str:
        """One line for a terminal."""
        dead = self.letter
        return (
            f"{self.id}\t{dead.failed_at:%Y-%m-%d %H:%M:%S}\t{dead.original_topic}\t"
            f"{dead.consumer_group}\t{dead.error_type}: {dead.error[:160]}"
        )


async def read_topic(kafka: KafkaSettings, name: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every message still in topic `name` (its wire name), without a consumer group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([name])
    finally:
        await admin.close()
    partitions = [TopicPartition(name, p["partition"]) for p in description["partitions"]]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.kafka_bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += records
        return found
    finally:
        await consumer.stop()


async def read_letters(kafka: KafkaSettings) -> list[Letter]:
    """Every dead letter still in the topic, oldest first."""
    found: list[Letter] = []
    for record in await read_topic(kafka, kafka.topic(topics.DEAD_LETTER)):
        try:
            letter = DeadLetter.model_validate_json(record.value or b"")
        except ValidationError:
            continue  # not a dead letter this system wrote
        found.append(Letter(record.partition, record.offset, letter))
    return sorted(found, key=lambda f: (f.letter.failed_at, f.partition, f.offset))


def find(letters: list[Letter], letter_id: str) -> Letter:
    """The letter called `letter_id`; `LetterRefusedError` if there is none."""
    for found in letters:
        if found.id == letter_id.strip():
            return found
    raise LetterRefusedError(f"no dead letter {letter_id!r} (see `abauto dlq list`)")


async def replay(kafka: KafkaSettings, found: Letter) -> None:
    """Publish the letter's original bytes to its original topic, with its key."""
    letter = found.letter
    if letter.raw_truncated:
        raise LetterRefusedError(
            f"dead letter {found.id} kept only {len(letter.raw)} of {letter.raw_size} bytes: "
            "it cannot be replayed"
        )
    key = base64.b64decode(letter.original_key_b64) if letter.original_key_b64 else None
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.kafka_bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(letter.original_topic, letter.raw, key=key)
    finally:
        await producer.stop()
