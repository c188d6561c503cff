"""`abauto dlq`: dead letters listed from the real topic, and one replayed to its original
topic with its original bytes (so its event id, and the recorder's exactly-once, hold)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import sys
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from ops import dead_letters
from ops.event_examples import example_event
from shared import events as ev
from shared import topics
from shared.messaging import ensure_topics
from shared.messaging.dead_letter import DeadLetter
from shared.settings import KafkaSettings

pytestmark = pytest.mark.integration


def letter_of(raw: bytes, topic: str, *, truncated: bool = False) -> DeadLetter:
    return DeadLetter(
        error="the downloader's database was away three times", error_type="HandlerError",
        consumer_group="abauto.downloader", attempts=3, original_topic=topic,
        original_partition=0, original_offset=7,
        original_key_b64=base64.b64encode(b"asin:B002UZMLXM").decode(),
        raw_b64=base64.b64encode(raw).decode(), raw_size=len(raw) + (10 if truncated else 0),
        raw_sha256=hashlib.sha256(raw).hexdigest(), raw_truncated=truncated,
    )  # fmt: skip


async def test_a_dead_letter_is_listed_and_replayed_with_its_event_id(stack: Any) -> None:
    kafka = KafkaSettings(
        kafka_bootstrap_servers=stack.kafka_bootstrap,
        kafka_topic_namespace=f"dlq-{uuid.uuid4().hex[:8]}",
    )
    await ensure_topics(kafka, topics.ALL_TOPICS)
    event = example_event(ev.MissingBookIdentified)
    wanted = kafka.topic(topics.WANTED)
    producer = AIOKafkaProducer(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await producer.start()
    try:
        for letter in (letter_of(event.to_json(), wanted), letter_of(b"{", wanted, truncated=True)):
            await producer.send_and_wait(kafka.topic(topics.DEAD_LETTER), letter.to_json())
    finally:
        await producer.stop()

    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.kafka_bootstrap_servers,
        "ABAUTO_KAFKA_TOPIC_NAMESPACE": kafka.kafka_topic_namespace,
    }

    async def abauto(*arguments: str) -> tuple[int, str]:
        command = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ops.cli", "dlq", *arguments, env=environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(command.communicate(), 60)
        return command.returncode or 0, out.decode()

    status, listed = await abauto("list", "--json")
    assert status == 0
    letters = json.loads(listed)
    assert [letter["original_topic"] for letter in letters] == [wanted, wanted]
    whole, cut = (letters[0]["id"], letters[1]["id"])
    assert (await abauto("replay", cut))[0] == 2  # only a prefix kept: refused
    assert (await abauto("replay", "9:999"))[0] == 2  # no such letter
    assert (await abauto("replay", whole))[0] == 0

    replayed = [(r.key, r.value) for r in await dead_letters.read_topic(kafka, wanted)]
    assert replayed == [(b"asin:B002UZMLXM", event.to_json())]
    assert ev.parse_event(replayed[0][1]).event_id == event.event_id
    assert len(await dead_letters.read_letters(kafka)) == 2  # the letters stay
