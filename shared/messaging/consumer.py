"""The consume → handle → commit loop every service runs.

Delivery rules:
- offsets are committed manually, only past messages that were handled or dead-lettered;
- a message that cannot be decoded goes to the dead-letter topic at once, with the error,
  its original topic/partition/offset and its raw bytes; consumption goes on;
- the handler gets each polled batch of decoded events and returns the ones it rejects,
  which are dead-lettered the same way;
- a handler that raises a transient error (`shared.faults`: the database, Audiobookshelf,
  qBittorrent… went away) gets the same batch again, with backoff, for as long as it
  takes: nothing is skipped, nothing is charged to the message;
- a handler that raises because our credentials were refused stops consuming (nothing
  committed, nothing dead-lettered) until the service is reconfigured and restarted;
- a handler that raises anything else is given the batch's events one at a time, and an
  event that alone makes it raise is dead-lettered: no message can stop a consumer;
- on stop, the batches in hand are finished, offsets are committed, the consumer closed;
- with `max_in_flight` > 1, several batches are handled at once (for handlers whose effect
  does not depend on order, like the recorder's); offsets are committed in order.

Each event handled, each message dead-lettered and, after every poll, the lag of each
assigned partition are counted (`shared.metrics`), by topic as `shared.topics` names it.

`per_event(handler)` adapts a one-event handler: each event is retried a bounded number
of times with backoff, then rejected; transient and refused errors go straight to the
loop (which waits), and events already handled are not handled again when it retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from shared.conditions import Conditions
from shared.events import BookRef, Event, EventDecodeError, parse_event
from shared.faults import is_refused, is_transient
from shared.logs import log_context
from shared.messaging.dead_letter import dead_letter_of
from shared.messaging.lag import ConsumerLag
from shared.messaging.producer import EventProducer
from shared.metrics import EVENTS_DEAD_LETTERED, EVENTS_HANDLED
from shared.settings import KafkaSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """Where a message came from, for handlers that need it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None


@dataclass(frozen=True)
class Received:
    """A decoded event and the message it came in."""

    event: Event[Any]
    delivery: Delivery
    record: Any = field(repr=False)

    def log_fields(self) -> dict[str, object]:
        """The ids and position every log line about this event carries, and the key of
        the book it is about, if it is about one."""
        fields: dict[str, object] = {
            "event_type": self.event.event_type,
            "event_id": str(self.event.event_id),
            "correlation_id": str(self.event.correlation_id),
            "topic": self.delivery.topic,
            "partition": self.delivery.partition,
            "offset": self.delivery.offset,
        }
        book = getattr(self.event.payload, "book", None)
        if isinstance(book, BookRef):
            fields["book"] = book.key
        return fields


@dataclass(frozen=True)
class Rejected:
    """An event the handler gave up on, and why: it goes to the dead-letter topic."""

    received: Received
    error: Exception
    attempts: int = 1


BatchHandler = Callable[[Sequence[Received]], Awaitable[Sequence[Rejected]]]
Handler = Callable[[Event[Any], Delivery], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failing handler is retried."""

    max_attempts: int = 5
    initial_backoff_s: float = 0.2
    max_backoff_s: float = 5.0


def per_event(handler: Handler, retry: RetryPolicy | None = None) -> BatchHandler:
    """A batch handler that runs `handler` on each event in order, with bounded retries."""
    policy = retry or RetryPolicy()
    # Outcomes of the batch in hand so far: when a transient failure makes the loop hand
    # the same batch back, events already handled are not handled twice (and those
    # already rejected are still dead-lettered). Cleared once the batch is through.
    outcomes: dict[tuple[str, int, int], Rejected | None] = {}

    async def handle_batch(batch: Sequence[Received]) -> Sequence[Rejected]:
        for received in batch:
            where = received.delivery
            position = (where.topic, where.partition, where.offset)
            if position in outcomes:
                continue
            with log_context(**received.log_fields()):
                error = await _with_retries(handler, received, policy)
            outcomes[position] = (
                None if error is None else Rejected(received, error, policy.max_attempts)
            )
        rejected = [r for r in outcomes.values() if r is not None]
        outcomes.clear()
        return rejected

    return handle_batch


async def _with_retries(
    handler: Handler, received: Received, policy: RetryPolicy
) -> Exception | None:
    retrying = AsyncRetrying(
        # Waiting out an outage is the loop's job, for as long as it lasts.
        retry=retry_if_exception(lambda e: not (is_transient(e) or is_refused(e))),
        stop=stop_after_attempt(policy.max_attempts),
        wait=wait_exponential(multiplier=policy.initial_backoff_s, max=policy.max_backoff_s),
        before_sleep=lambda state: logger.warning(
            "handler failed (attempt %d), retrying: %r",
            state.attempt_number,
            state.outcome.exception() if state.outcome else None,
            extra={"event": "handler.retrying", "attempt": state.attempt_number},
        ),
    )
    try:
        async for attempt in retrying:
            with attempt:
                await handler(received.event, received.delivery)
    except RetryError as exhausted:
        cause = exhausted.last_attempt.exception()
        return cause if isinstance(cause, Exception) else exhausted
    except Exception as error:
        if is_transient(error) or is_refused(error):
            raise
        return error  # not retried: a bounded-retry policy of one attempt
    return None


class ConsumerLoop:
    """Runs a batch handler on every event of `topics` for consumer group `group_id`."""

    def __init__(
        self,
        *,
        settings: KafkaSettings,
        group_id: str,
        topics: tuple[str, ...],
        handler: BatchHandler,
        producer: EventProducer,
        conditions: Conditions | None = None,
        max_batch: int = 500,
        linger_ms: int = 50,
        max_in_flight: int = 1,
        max_backoff_s: float = 10.0,
    ) -> None:
        self._settings = settings
        self._group_id = settings.topic(group_id)  # groups are cluster-wide: namespace them
        self._topics = topics
        self._handler = handler
        self._producer = producer
        self._conditions = conditions or Conditions()
        self._dependency = f"handling of {', '.join(topics)}"
        self._max_batch = max_batch
        self._linger_ms = linger_ms
        self._max_in_flight = max_in_flight
        self._max_backoff_s = max_backoff_s
        self._topic_names = {settings.topic(name): name for name in topics}
        self._lag = ConsumerLag(group_id, self._topic_names)
        for name in topics:  # a count of none is a count: 0, not a missing series
            EVENTS_DEAD_LETTERED.labels(name)
        self.assigned = asyncio.Event()

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *(self._settings.topic(name) for name in self._topics),
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=self._group_id,
            client_id=f"{self._settings.kafka_client_id_prefix}-{self._group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_bytes=16 * 1024 * 1024,  # bounds the prefetch buffer, hence memory
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set; commit and close in every case.

        Up to `max_in_flight` batches are handled at once (the next one is polled and
        decoded while the previous one is in the handler); offsets are still committed
        strictly in batch order, each only once its batch is done.
        """
        consumer = self._new_consumer()
        await consumer.start()
        in_flight: deque[tuple[asyncio.Task[bool], dict[TopicPartition, int]]] = deque()
        intact = False  # whether every batch so far was handled: only then commit more
        try:
            while not stop.is_set():
                records = await self._poll(consumer)
                if consumer.assignment():
                    self.assigned.set()
                await self._lag.measure(consumer)
                if records:
                    task = asyncio.create_task(self._process(records, stop))
                    in_flight.append((task, _next_offsets(records)))
                while in_flight and (
                    len(in_flight) >= self._max_in_flight or in_flight[0][0].done() or not records
                ):
                    if not await self._finish_oldest(consumer, in_flight):
                        return
            intact = True
        finally:
            try:
                # Finish and commit what is in hand, unless a batch was left unhandled (or
                # failed): committing a later one would skip it on a shared partition.
                while intact and in_flight:
                    intact = await self._finish_oldest(consumer, in_flight)
            finally:
                for task, _ in in_flight:
                    task.cancel()
                await consumer.stop()
                logger.info(
                    "consumer %s stopped",
                    self._group_id,
                    extra={"event": "consumer.stopped", "group": self._group_id},
                )

    async def _finish_oldest(
        self,
        consumer: AIOKafkaConsumer,
        in_flight: deque[tuple[asyncio.Task[bool], dict[TopicPartition, int]]],
    ) -> bool:
        """Wait for the oldest batch and commit it; False if it ended without being handled
        (a stop during an outage): then nothing after it may be committed either."""
        task, offsets = in_flight[0]
        await self._wait_polling(consumer, task)
        in_flight.popleft()
        if not task.result():
            return False
        await self._commit(consumer, offsets)
        return True

    async def _wait_polling(self, consumer: AIOKafkaConsumer, task: asyncio.Task[bool]) -> None:
        """Wait for `task`; if that takes long (an outage), keep polling with every partition
        paused, so that the group does not take this consumer for dead."""
        paused: set[TopicPartition] = set()
        try:
            while not (await asyncio.wait({task}, timeout=1.0))[0]:
                if not paused:
                    paused = set(consumer.assignment())
                    consumer.pause(*paused)
                await consumer.getmany(timeout_ms=0)
        finally:
            if paused:
                consumer.resume(*(p for p in paused if p in consumer.assignment()))

    async def _poll(self, consumer: AIOKafkaConsumer) -> list[Any]:
        """Up to `max_batch` records: what arrives within `linger_ms` of the first one."""
        records: list[Any] = []
        timeout_ms = 200
        deadline = None
        loop = asyncio.get_running_loop()
        while len(records) < self._max_batch:
            batch = await consumer.getmany(
                timeout_ms=timeout_ms, max_records=self._max_batch - len(records)
            )
            fetched = [record for part in batch.values() for record in part]
            if not fetched:
                break
            records += fetched
            deadline = deadline or loop.time() + self._linger_ms / 1000
            timeout_ms = max(0, int((deadline - loop.time()) * 1000))
            if timeout_ms == 0:
                break
        return records

    async def _process(self, records: list[Any], stop: asyncio.Event) -> bool:
        """Handle one polled batch; False if a stop came while it could not be handled."""
        received: list[Received] = []
        for record in records:
            try:
                event = parse_event(record.value or b"")
            except EventDecodeError as error:
                await self._dead_letter(record, error, attempts=0)
                continue
            except Exception as error:
                logger.exception(
                    "decoding a message raised %s",
                    type(error).__name__,
                    extra={"event": "message.undecodable", "topic": record.topic},
                )
                await self._dead_letter(record, error, attempts=0)
                continue
            delivery = Delivery(record.topic, record.partition, record.offset, record.key)
            received.append(Received(event, delivery, record))
        if not received:
            return True
        rejected = await self._handle_until_done(received, stop)
        if rejected is None:
            return False
        for reject in rejected:
            await self._dead_letter(reject.received.record, reject.error, reject.attempts)
        self._count_handled(received, rejected)
        return True

    def _count_handled(self, received: list[Received], rejected: Sequence[Rejected]) -> None:
        refused = {_position(reject.received.delivery) for reject in rejected}
        for one in received:
            if _position(one.delivery) not in refused:
                topic = self._topic_names.get(one.delivery.topic, one.delivery.topic)
                EVENTS_HANDLED.labels(topic, one.event.event_type).inc()

    async def _handle_until_done(
        self, batch: list[Received], stop: asyncio.Event
    ) -> Sequence[Rejected] | None:
        """Run the handler until it has handled the batch (see the module docstring).

        Returns None if asked to stop before that: nothing is committed then.
        """
        try:
            return await self._patiently(batch, stop)
        except _Unhandled:
            return None
        except Exception as error:  # noqa: BLE001  (a message must never stop a consumer)
            if len(batch) == 1:
                return [Rejected(batch[0], error)]
            logger.warning(
                "handler failed on a batch of %d events (%r); handling them one by one",
                len(batch),
                error,
                extra={"event": "handler.batch_split", "events": len(batch)},
            )
        rejected: list[Rejected] = []
        for received in batch:
            try:
                rejected += await self._patiently([received], stop)
            except _Unhandled:
                return None
            except Exception as error:  # noqa: BLE001  (dead-lettered with its error)
                rejected.append(Rejected(received, error))
        return rejected

    async def _patiently(self, batch: list[Received], stop: asyncio.Event) -> Sequence[Rejected]:
        """The handler's answer, waiting out transient failures and refused credentials
        (`_Unhandled` if a stop comes first); any other error is raised."""
        backoff = 0.2
        while True:
            try:
                rejected = await self._handler(batch)
            except Exception as error:
                if is_refused(error):
                    self._conditions.set_refused(self._dependency, str(error)[:300])
                    await stop.wait()  # no further attempt until reconfigured
                    raise _Unhandled from error
                if not is_transient(error):
                    raise
                self._conditions.set_away(self._dependency, str(error)[:300] or repr(error))
                logger.debug(
                    "transient failure on %d events: %r",
                    len(batch),
                    error,
                    extra={"event": "handler.waiting", "dependency": self._dependency},
                )
            else:
                self._conditions.clear(self._dependency)
                return rejected
            if stop.is_set():
                raise _Unhandled
            await _sleep_unless(stop, backoff)
            backoff = min(backoff * 2, self._max_backoff_s)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
            self._lag.committed(offsets)
        except CommitFailedError as error:
            # The group rebalanced while the batch was handled: its new owner gets these
            # messages again, and handlers are idempotent on event_id.
            logger.warning(
                "offsets not committed after a rebalance: %s",
                error,
                extra={"event": "consumer.commit_skipped"},
            )

    async def _dead_letter(self, record: Any, error: BaseException, attempts: int) -> None:
        letter = dead_letter_of(record, error, group_id=self._group_id, attempts=attempts)
        key = record.key[:1024] if record.key else None
        backoff = 0.2
        while True:
            try:
                await self._producer.send_raw(
                    letter.topic, letter.to_json(), key=key, headers=letter.headers()
                )
                break
            except Exception as failure:
                if not is_transient(failure):
                    raise
                logger.warning(
                    "dead letter not sent yet (Kafka away), retrying: %r",
                    failure,
                    extra={"event": "dead_letter.waiting"},
                )
                await asyncio.sleep(backoff)  # backoff while the broker is away
                backoff = min(backoff * 2, self._max_backoff_s)
        EVENTS_DEAD_LETTERED.labels(self._topic_names.get(record.topic, record.topic)).inc()
        with log_context(topic=record.topic, partition=record.partition, offset=record.offset):
            logger.error(
                "dead-lettered message: %s",
                letter.error,
                extra={"event": "message.dead_lettered", "error_type": letter.error_type},
            )


class _Unhandled(Exception):  # noqa: N818
    """A stop came while a batch could not be handled: commit nothing from here on."""


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Back off for `seconds`, or less if a stop comes."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return


def _position(delivery: Delivery) -> tuple[str, int, int]:
    return delivery.topic, delivery.partition, delivery.offset


def _next_offsets(records: list[Any]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        partition = TopicPartition(record.topic, record.partition)
        offsets[partition] = max(offsets.get(partition, 0), record.offset + 1)
    return offsets
