"""Kafka plumbing on a real broker: delivery, dead letters, crashes, clean shutdown."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from shared import topics
from shared.conditions import Conditions
from shared.events import BookRef, BookRequested, BookRequestedPayload, Event, parse_event
from shared.faults import CredentialsRefused, Unavailable
from shared.messaging import (
    BatchHandler,
    ConsumerLoop,
    Delivery,
    EventProducer,
    Received,
    Rejected,
    RetryPolicy,
    ensure_topics,
    per_event,
)
from shared.settings import KafkaSettings
from tests.conftest import Stack
from tests.support.kafka_reading import committed_offset, dead_letters
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
async def kafka(stack: Stack) -> AsyncIterator[KafkaSettings]:
    """Kafka settings with every topic of the system created in this run's namespace."""
    settings = KafkaSettings(kafka_bootstrap_servers=stack.kafka_bootstrap)
    created = await ensure_topics(settings, topics.ALL_TOPICS)
    yield settings
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(created)
    finally:
        await admin.close()


@pytest.fixture
async def producer(kafka: KafkaSettings) -> AsyncIterator[EventProducer]:
    producer = EventProducer(kafka, client_id="tests")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def _request(title: str) -> BookRequested:
    payload = BookRequestedPayload(book=BookRef(title=title, author="Tester"))
    return BookRequested.create(payload, producer="tests")


class Recorder:
    """A handler that records what it was given, optionally failing on some titles."""

    def __init__(self, fail_titles: frozenset[str] = frozenset()) -> None:
        self.handled: list[tuple[Event[Any], Delivery]] = []
        self.attempts: dict[str, int] = {}
        self._fail_titles = fail_titles

    async def __call__(self, event: Event[Any], delivery: Delivery) -> None:
        title = event.payload.book.title
        self.attempts[title] = self.attempts.get(title, 0) + 1
        if title in self._fail_titles:
            raise RuntimeError(f"cannot handle {title}")
        self.handled.append((event, delivery))

    def titles(self) -> list[str]:
        return [event.payload.book.title for event, _ in self.handled]


async def _run_loop(
    kafka: KafkaSettings, producer: EventProducer, group: str, handler: Recorder
) -> tuple[ConsumerLoop, asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    loop = ConsumerLoop(
        settings=kafka,
        group_id=group,
        topics=(topics.WANTED,),
        handler=per_event(
            handler, RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05)
        ),
        producer=producer,
    )
    return loop, stop, asyncio.create_task(loop.run(stop))


async def test_published_events_are_consumed_in_order_with_their_delivery(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    titles = [f"{unique} book {n}" for n in range(5)]
    sent = [_request(title).model_copy(update={"key": f"book:{unique}"}) for title in titles]
    handler = Recorder()
    _, stop, task = await _run_loop(kafka, producer, f"g-{unique}", handler)
    for event in sent:
        await producer.publish(event)

    await wait_until(
        lambda: len([t for t in handler.titles() if unique in t]) == 5, what="5 events"
    )
    stop.set()
    await asyncio.wait_for(task, 10)

    mine = [(e, d) for e, d in handler.handled if unique in e.payload.book.title]
    assert [e for e, _ in mine] == sent  # one key, one partition: order kept
    assert {d.topic for _, d in mine} == {kafka.topic(topics.WANTED)}
    assert {d.key for _, d in mine} == {f"book:{unique}".encode()}


async def test_a_poison_message_is_dead_lettered_and_the_next_one_still_handled(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    poison = f"not an event {unique}".encode()
    good = _request(f"{unique} after poison")
    raw = AIOKafkaProducer(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await raw.start()
    try:
        await raw.send_and_wait(kafka.topic(topics.WANTED), poison, key=good.key.encode())
    finally:
        await raw.stop()
    await producer.publish(good)
    handler = Recorder()
    _, stop, task = await _run_loop(kafka, producer, f"g-{unique}", handler)

    await wait_until(lambda: good.payload.book.title in handler.titles(), what="good event")
    stop.set()
    await asyncio.wait_for(task, 10)

    letters = await dead_letters(kafka, lambda raw: raw == poison)
    assert len(letters) == 1
    letter = letters[0]
    assert letter["original_topic"] == kafka.topic(topics.WANTED)
    assert letter["error_type"] == "EventDecodeError"
    assert "not JSON" in letter["error"]
    assert letter["consumer_group"] == kafka.topic(f"g-{unique}")
    assert letter["attempts"] == 0
    assert isinstance(letter["original_offset"], int)


async def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    doomed, fine = _request(f"{unique} doomed"), _request(f"{unique} fine")
    handler = Recorder(fail_titles=frozenset({doomed.payload.book.title}))
    _, stop, task = await _run_loop(kafka, producer, f"g-{unique}", handler)
    await producer.publish(doomed)
    await producer.publish(fine)

    await wait_until(lambda: fine.payload.book.title in handler.titles(), what="fine event")
    stop.set()
    await asyncio.wait_for(task, 10)

    assert handler.attempts[doomed.payload.book.title] == 3
    letters = await dead_letters(kafka, lambda raw: str(doomed.event_id).encode() in raw)
    assert [(x["error_type"], x["attempts"]) for x in letters] == [("RuntimeError", 3)]
    assert "cannot handle" in letters[0]["error"]


async def test_offsets_are_committed_only_after_handling(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    group = f"g-{unique}"
    handler = Recorder()
    _loop, stop, task = await _run_loop(kafka, producer, group, handler)
    event = _request(f"{unique} committed")
    await producer.publish(event)
    await wait_until(lambda: event.payload.book.title in handler.titles(), what="handled")
    stop.set()
    await asyncio.wait_for(task, 10)

    _, delivery = next((e, d) for e, d in handler.handled if e.event_id == event.event_id)
    partition = TopicPartition(delivery.topic, delivery.partition)
    committed = await committed_offset(kafka, kafka.topic(group), partition)
    assert committed == delivery.offset + 1


# ------------------------------------------------------------------ real processes


def _start_consumer(
    group: str, output: Path, mode: str, port: int = 0, marker: str = ""
) -> subprocess.Popen[bytes]:
    """Start a consumer process; its JSON logs go to OUTPUT.log."""
    arguments = [group, str(output), mode, str(port), marker]
    with output.with_suffix(".log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.consumer_process", *arguments],
            cwd=ROOT,
            env=os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def _exit_code(process: subprocess.Popen[bytes], within: float) -> int:
    await wait_until(lambda: process.poll() is not None, within=within, what="process exit")
    return process.returncode


async def test_a_consumer_killed_before_committing_rereads_the_message(
    kafka: KafkaSettings, producer: EventProducer, unique: str, tmp_path: Path
) -> None:
    group, output = f"g-{unique}", tmp_path / "seen.txt"
    event = _request(f"{unique} crash")
    await producer.publish(event)

    crashing = _start_consumer(group, output, "hang", marker=unique)
    try:
        await wait_until(
            lambda: any(str(event.event_id) in line for line in _lines(output)), what="first read"
        )
    finally:
        crashing.send_signal(signal.SIGKILL)
        await _exit_code(crashing, 10)

    restarted = _start_consumer(group, output, "ack")
    try:
        await wait_until(
            lambda: sum(str(event.event_id) in line for line in _lines(output)) == 2,
            within=60,
            what="the same event read again after the crash",
        )
    finally:
        restarted.send_signal(signal.SIGTERM)
        assert await _exit_code(restarted, 20) == 0


async def test_sigterm_finishes_commits_and_exits_cleanly_with_health_endpoints(
    kafka: KafkaSettings, producer: EventProducer, unique: str, tmp_path: Path
) -> None:
    group, output = f"g-{unique}", tmp_path / "seen.txt"
    port = _free_port()
    process = _start_consumer(group, output, "ack", port)
    try:
        async with aiohttp.ClientSession() as http:
            await wait_until(lambda: _ready(http, port), within=60, what="/readyz 200")
            async with http.get(f"http://127.0.0.1:{port}/healthz") as alive:
                assert alive.status == 200
        event = _request(f"{unique} sigterm")
        await producer.publish(event)
        await wait_until(lambda: any(str(event.event_id) in x for x in _lines(output)), what="read")
    finally:
        process.send_signal(signal.SIGTERM)
        code = await _exit_code(process, 20)
    assert code == 0, output.with_suffix(".log").read_text()[-3000:]

    line = next(x for x in _lines(output) if str(event.event_id) in x)
    _, partition, offset = line.split()
    wanted = TopicPartition(kafka.topic(topics.WANTED), int(partition))
    committed = await committed_offset(kafka, kafka.topic(group), wanted)
    assert committed == int(offset) + 1


async def _ready(http: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
            body = await response.json()
            return response.status == 200 and body["checks"] == {"kafka": True, "database": True}
    except aiohttp.ClientConnectionError:
        return False


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class OutageError(Unavailable):
    """Stands for a dependency that is down for a while."""


def _outage_loop(
    kafka: KafkaSettings,
    producer: EventProducer,
    unique: str,
    handler: BatchHandler,
    **options: Any,
) -> ConsumerLoop:
    """A loop on the wanted topic (`OutageError` is a transient failure, see faults)."""
    return ConsumerLoop(
        settings=kafka,
        group_id=f"g-{unique}",
        topics=(topics.WANTED,),
        handler=handler,
        producer=producer,
        **options,
    )


async def test_a_transient_failure_hands_the_same_batch_again_until_it_succeeds(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    sent = [_request(f"{unique} outage {n}") for n in range(3)]
    calls: list[list[str]] = []

    async def flaky(batch: Sequence[Received]) -> Sequence[Rejected]:
        mine = [r.event.payload.book.title for r in batch if unique in r.event.payload.book.title]
        calls.append(mine)
        if mine and sum(1 for c in calls if c) <= 2:
            raise OutageError("database unreachable")
        return []

    stop = asyncio.Event()
    loop = _outage_loop(kafka, producer, unique, flaky, max_backoff_s=0.2)
    task = asyncio.create_task(loop.run(stop))
    await producer.publish_many(sent)
    await wait_until(lambda: len([c for c in calls if c]) >= 3, what="third attempt")
    stop.set()
    await asyncio.wait_for(task, 10)

    attempts = [c for c in calls if c]
    assert attempts[0] == attempts[1]  # the failed batch came back as it was
    assert sorted({t for c in calls for t in c}) == sorted(e.payload.book.title for e in sent)
    letters = await dead_letters(kafka, lambda raw: unique.encode() in raw)
    assert letters == []


async def test_nothing_after_an_unhandled_batch_is_committed_on_stop(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    key = f"book:{unique}"
    stuck, later = (_request(f"{unique} {n}").model_copy(update={"key": key}) for n in (1, 2))
    handled: list[str] = []

    async def handler(batch: Sequence[Received]) -> Sequence[Rejected]:
        titles = [r.event.payload.book.title for r in batch]
        if stuck.payload.book.title in titles:
            raise OutageError("database unreachable")  # for as long as the test runs
        handled.extend(titles)
        return []

    stop = asyncio.Event()
    # One event per batch, two in flight: the second is handled beside the stuck first.
    loop = _outage_loop(kafka, producer, unique, handler, max_batch=1, max_in_flight=2, linger_ms=0)
    await producer.publish(stuck)
    metadata = await producer.publish(later)
    task = asyncio.create_task(loop.run(stop))
    await wait_until(lambda: later.payload.book.title in handled, what="the later batch handled")
    stop.set()
    await asyncio.wait_for(task, 20)

    partition = TopicPartition(metadata.topic, metadata.partition)
    committed = await committed_offset(kafka, kafka.topic(f"g-{unique}"), partition)
    assert committed is None or committed <= metadata.offset - 1, "the stuck event was skipped"


# ------------------------------------------------------------- hostile and unlucky input


async def _send_raw(kafka: KafkaSettings, value: bytes, key: bytes) -> None:
    raw = AIOKafkaProducer(
        bootstrap_servers=kafka.kafka_bootstrap_servers, max_request_size=1_000_000
    )
    await raw.start()
    try:
        await raw.send_and_wait(kafka.topic(topics.WANTED), value, key=key)
    finally:
        await raw.stop()


async def test_a_message_too_large_to_quote_whole_is_dead_lettered_and_the_next_handled(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    """Base64 of ~900 KB exceeds the producer's 1 MiB limit: the letter keeps a prefix,
    the size and the digest, and the consumer goes on (it crash-looped before)."""
    huge = (f'{{"event_type": "wanted.book_requested", "pad": "{unique}' + "x" * 900_000).encode()
    good = _request(f"{unique} after the huge one")
    await _send_raw(kafka, huge, key=good.key.encode())
    await producer.publish(good)
    handler = Recorder()
    _, stop, task = await _run_loop(kafka, producer, f"g-{unique}", handler)

    await wait_until(lambda: good.payload.book.title in handler.titles(), what="the next event")
    stop.set()
    await asyncio.wait_for(task, 10)

    (letter,) = await dead_letters(kafka, lambda raw: unique.encode() in raw[:200])
    assert letter["raw_truncated"] is True
    assert letter["raw_size"] == len(huge)
    assert letter["raw_sha256"] == hashlib.sha256(huge).hexdigest()
    assert letter["error_type"] == "EventTooLargeError"


async def test_a_batch_handler_that_breaks_on_one_event_dead_letters_only_that_one(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    sent = [_request(f"{unique} batch {n}") for n in range(4)]
    poison = sent[2].payload.book.title
    recorded: list[str] = []

    async def fragile(batch: Sequence[Received]) -> Sequence[Rejected]:
        titles = [r.event.payload.book.title for r in batch]
        if poison in titles:
            raise TypeError("Integer exceeds 64-bit range")  # a bug, or data we cannot encode
        recorded.extend(titles)
        return []

    stop = asyncio.Event()
    loop = ConsumerLoop(
        settings=kafka,
        group_id=f"g-{unique}",
        topics=(topics.WANTED,),
        handler=fragile,
        producer=producer,
    )
    task = asyncio.create_task(loop.run(stop))
    await producer.publish_many(sent)
    others = {e.payload.book.title for e in sent} - {poison}
    await wait_until(lambda: others <= set(recorded), what="the three other events")
    letters = await dead_letters(kafka, lambda raw: poison.encode() in raw)
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)
    assert poison not in recorded
    assert [letter["error_type"] for letter in letters] == ["TypeError"]


async def test_an_event_rejected_before_an_outage_is_still_dead_lettered_after_it(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    """per_event remembers outcomes while the loop waits out a transient failure: the
    events already handled are not handled twice, the one already rejected is not lost."""
    bad, flaky, last = (_request(f"{unique} {name}") for name in ("bad", "flaky", "last"))
    key = f"book:{unique}"
    sent = [e.model_copy(update={"key": key}) for e in (bad, flaky, last)]
    calls: dict[str, int] = {}

    async def handler(event: Event[Any], delivery: Delivery) -> None:
        title = event.payload.book.title
        if unique not in title:
            return
        calls[title] = calls.get(title, 0) + 1
        if title == bad.payload.book.title:
            raise ValueError("wrong input")
        if title == flaky.payload.book.title and calls[title] == 1:
            raise OutageError("Audiobookshelf is restarting")

    stop = asyncio.Event()
    loop = _outage_loop(kafka, producer, unique, per_event(handler, RetryPolicy(max_attempts=1)))
    task = asyncio.create_task(loop.run(stop))
    await producer.publish_many(sent)
    await wait_until(lambda: calls.get(last.payload.book.title) == 1, what="the last event")
    stop.set()
    await asyncio.wait_for(task, 10)
    letters = await dead_letters(kafka, lambda raw: f"{unique} bad".encode() in raw)
    assert len(letters) == 1
    assert calls == {
        bad.payload.book.title: 1,
        flaky.payload.book.title: 2,
        last.payload.book.title: 1,
    }


async def test_refused_credentials_stop_consumption_without_charging_the_message(
    kafka: KafkaSettings, producer: EventProducer, unique: str
) -> None:
    wanted = _request(f"{unique} refused")
    attempts: list[str] = []
    conditions = Conditions()

    async def handler(event: Event[Any], delivery: Delivery) -> None:
        if unique not in event.payload.book.title:
            return
        attempts.append(event.payload.book.title)
        raise CredentialsRefused("Audiobookshelf refused the API key")

    stop = asyncio.Event()
    loop = ConsumerLoop(
        settings=kafka,
        group_id=f"g-{unique}",
        topics=(topics.WANTED,),
        handler=per_event(handler),
        producer=producer,
        conditions=conditions,
    )
    task = asyncio.create_task(loop.run(stop))
    sent = await producer.publish(wanted)
    await wait_until(lambda: not conditions.ready, what="the loop to report not ready")
    assert attempts == [wanted.payload.book.title]  # tried once, not retried
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)
    assert await dead_letters(kafka, lambda raw: unique.encode() in raw) == []
    partition = TopicPartition(kafka.topic(topics.WANTED), sent.partition)
    committed = await committed_offset(kafka, kafka.topic(f"g-{unique}"), partition)
    assert committed is None or committed <= sent.offset  # the request waits, unread


async def test_a_decoder_that_breaks_on_a_message_dead_letters_it_and_goes_on(
    kafka: KafkaSettings, producer: EventProducer, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong decoding one message (a bug included) stops no consumer."""
    from shared.messaging import consumer as consumer_module

    real = parse_event
    poison, good = _request(f"{unique} breaks the decoder"), _request(f"{unique} after it")

    def fragile(raw: bytes) -> Event[Any]:
        if b"breaks the decoder" in raw:
            raise KeyError("a decoder bug")
        return real(raw)

    monkeypatch.setattr(consumer_module, "parse_event", fragile)
    handler = Recorder()
    _, stop, task = await _run_loop(kafka, producer, f"g-{unique}", handler)
    await producer.publish_many([poison, good])
    await wait_until(lambda: good.payload.book.title in handler.titles(), what="the next event")
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)
    letters = await dead_letters(kafka, lambda raw: f"{unique} breaks".encode() in raw)
    assert [letter["error_type"] for letter in letters] == ["KeyError"]


@pytest.fixture
async def own_topics(
    stack: Stack, unique: str
) -> AsyncIterator[tuple[KafkaSettings, EventProducer]]:
    """Topics in a namespace of this test's own, and a producer: what is counted on them
    is the test's own."""
    settings = KafkaSettings(
        kafka_bootstrap_servers=stack.kafka_bootstrap, kafka_topic_namespace=f"metrics-{unique}"
    )
    created = await ensure_topics(settings, (topics.WANTED, topics.DEAD_LETTER))
    producer = EventProducer(settings, client_id="tests")
    await producer.start()
    try:
        yield settings, producer
    finally:
        await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(created)
        finally:
            await admin.close()


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _lag(group: str) -> float:
    """The group's lag over every partition of the wanted topic."""
    return sum(
        _sample("abauto_consumer_lag", group=group, topic=topics.WANTED, partition=str(p))
        for p in range(3)
    )


async def test_events_handled_and_dead_lettered_are_counted_by_topic(
    own_topics: tuple[KafkaSettings, EventProducer], unique: str
) -> None:
    settings, producer = own_topics
    handled = ("abauto_events_handled_total", {"topic": topics.WANTED})
    kind = {"event_type": "wanted.book_requested"}
    before = (
        _sample(handled[0], **handled[1], **kind),
        _sample("abauto_events_dead_lettered_total", topic=topics.WANTED),
    )
    doomed, fine = _request(f"{unique} doomed"), _request(f"{unique} fine")
    await producer.publish(_request(f"{unique} first"))
    await producer.send_raw(topics.WANTED, b"not an event", key=None, headers=[])
    await producer.publish(doomed)
    await producer.publish(fine)
    handler = Recorder(fail_titles=frozenset({doomed.payload.book.title}))
    _, stop, task = await _run_loop(settings, producer, f"g-{unique}", handler)

    def counts() -> tuple[float, float]:
        return (
            _sample(handled[0], **handled[1], **kind) - before[0],
            _sample("abauto_events_dead_lettered_total", topic=topics.WANTED) - before[1],
        )

    try:
        await wait_until(lambda: counts() == (2, 2), what="2 handled and 2 dead-lettered")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert counts() == (2, 2)


async def test_the_lag_is_what_the_group_has_not_committed_yet(
    own_topics: tuple[KafkaSettings, EventProducer], unique: str
) -> None:
    (settings, producer), group = own_topics, f"g-{unique}"
    release = asyncio.Event()

    async def hold_the_first(event: Event[Any], delivery: Delivery) -> None:
        await release.wait()

    for n in range(3):  # one key: one partition, one batch
        await producer.publish(_request(f"{unique} {n}").model_copy(update={"key": unique}))
    stop = asyncio.Event()
    loop = ConsumerLoop(
        settings=settings,
        group_id=group,
        topics=(topics.WANTED,),
        handler=per_event(hold_the_first),
        producer=producer,
    )
    task = asyncio.create_task(loop.run(stop))
    try:
        await wait_until(lambda: _lag(group) == 3, what="a lag of the 3 events in hand")
        release.set()
        await wait_until(lambda: _lag(group) == 0, what="no lag once they are committed")
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(task, 10)
