"""The consume → handle → commit loop every service runs.

Delivery rules:
- offsets are committed manually, only for messages that were handled or dead-lettered;
- a handler failure is retried with exponential backoff, a bounded number of times;
- a message that cannot be decoded, or keeps failing, goes to the dead-letter topic with
  the error, its original topic/partition/offset and raw bytes, and consumption goes on;
- on stop, the message in hand is finished, offsets are committed, the consumer closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from tenacity import AsyncRetrying, RetryError, stop_after_attempt, wait_exponential

from shared.events import Event, EventDecodeError, parse_event
from shared.logs import log_context
from shared.messaging.dead_letter import dead_letter_of
from shared.messaging.producer import EventProducer
from shared.settings import KafkaSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """Where a message came from, for handlers that need it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None


Handler = Callable[[Event[Any], Delivery], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing handler is retried before dead-lettering."""

    max_attempts: int = 5
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0


class ConsumerLoop:
    """Runs `handler` on every event of `topics` for consumer group `group_id`."""

    def __init__(
        self,
        *,
        settings: KafkaSettings,
        group_id: str,
        topics: tuple[str, ...],
        handler: Handler,
        producer: EventProducer,
        retry: RetryPolicy | None = None,
        max_batch: int = 500,
    ) -> None:
        self._settings = settings
        self._group_id = group_id
        self._topics = topics
        self._handler = handler
        self._producer = producer
        self._retry = retry or RetryPolicy()
        self._max_batch = max_batch
        self.assigned = asyncio.Event()

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=self._group_id,
            client_id=f"{self._settings.kafka_client_id_prefix}-{self._group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; commit and close in every case."""
        consumer = self._new_consumer()
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=self._max_batch)
                if consumer.assignment():
                    self.assigned.set()
                done = await self._process(batch, stop)
                if done:
                    await consumer.commit(done)
        finally:
            await consumer.stop()
            logger.info("consumer %s stopped", self._group_id)

    async def _process(
        self, batch: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]], stop: asyncio.Event
    ) -> dict[TopicPartition, int]:
        """Handle a polled batch in order; return the next offset to commit per partition."""
        done: dict[TopicPartition, int] = {}
        for partition, records in batch.items():
            for record in records:
                if stop.is_set():
                    return done
                await self._handle_one(record)
                done[partition] = record.offset + 1
        return done

    async def _handle_one(self, record: ConsumerRecord[bytes, bytes]) -> None:
        delivery = Delivery(record.topic, record.partition, record.offset, record.key)
        with log_context(topic=record.topic, partition=record.partition, offset=record.offset):
            try:
                event = parse_event(record.value or b"")
            except EventDecodeError as error:
                await self._dead_letter(record, error, attempts=0)
                return
            with log_context(
                event_id=str(event.event_id), correlation_id=str(event.correlation_id)
            ):
                await self._handle_with_retries(event, delivery, record)

    async def _handle_with_retries(
        self, event: Event[Any], delivery: Delivery, record: ConsumerRecord[bytes, bytes]
    ) -> None:
        policy = self._retry
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=wait_exponential(multiplier=policy.initial_backoff_s, max=policy.max_backoff_s),
            before_sleep=lambda state: logger.warning(
                "handler failed (attempt %d), retrying: %r",
                state.attempt_number,
                state.outcome.exception() if state.outcome else None,
            ),
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._handler(event, delivery)
        except RetryError as exhausted:
            cause = exhausted.last_attempt.exception()
            error = cause if isinstance(cause, Exception) else exhausted
            await self._dead_letter(record, error, attempts=policy.max_attempts)

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], error: Exception, *, attempts: int
    ) -> None:
        letter = dead_letter_of(record, error, group_id=self._group_id, attempts=attempts)
        await self._producer.send_raw(
            letter.topic, letter.to_json(), key=record.key, headers=letter.headers()
        )
        logger.error("dead-lettered message: %s", letter.error)
