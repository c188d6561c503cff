"""Publishing events: acks from every in-sync replica, idempotent, JSON, typed headers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from shared.events import Event
from shared.settings import KafkaSettings

logger = logging.getLogger(__name__)


def event_headers(event: Event[Any]) -> list[tuple[str, bytes]]:
    """Headers a consumer can route or trace by without decoding the body."""
    return [
        ("event_type", event.event_type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("event_id", str(event.event_id).encode()),
        ("correlation_id", str(event.correlation_id).encode()),
    ]


class EventProducer:
    """One Kafka producer per process; `publish` returns once the broker acknowledged."""

    def __init__(self, settings: KafkaSettings, client_id: str) -> None:
        self._settings = settings
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"{settings.kafka_client_id_prefix}-{client_id}",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
        )

    async def start(self) -> None:
        """Connect to the cluster."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush what is pending and close."""
        await self._producer.stop()

    async def publish(self, event: Event[Any]) -> RecordMetadata:
        """Send one event to its topic, keyed by its natural key, and wait for the ack."""
        metadata = await self._producer.send_and_wait(
            self._settings.topic(event.topic),
            event.to_json(),
            key=event.key.encode(),
            headers=event_headers(event),
        )
        logger.debug(
            "published %s",
            event.event_type,
            extra={
                "event": "message.published",
                "event_type": event.event_type,
                "event_id": str(event.event_id),
                "correlation_id": str(event.correlation_id),
            },
        )
        return metadata

    async def publish_many(self, events: Iterable[Event[Any]]) -> Sequence[RecordMetadata]:
        """Send many events in batches and wait until every one is acknowledged."""
        futures = [
            await self._producer.send(
                self._settings.topic(event.topic),
                event.to_json(),
                key=event.key.encode(),
                headers=event_headers(event),
            )
            for event in events
        ]
        return await asyncio.gather(*futures)

    async def send_raw(
        self, topic: str, value: bytes, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> RecordMetadata:
        """Send bytes that are not an `Event` (dead letters) to one of `shared.topics`."""
        return await self._producer.send_and_wait(
            self._settings.topic(topic), value, key=key, headers=headers
        )

    async def is_connected(self) -> bool:
        """Whether the cluster answers a metadata request (for readiness)."""
        try:
            return bool(await self._producer.client.fetch_all_metadata())
        except Exception:  # noqa: BLE001  (readiness reports any failure as not ready)
            return False
