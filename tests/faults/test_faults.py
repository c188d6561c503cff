"""The fault suite: the four services on the real stack while things go wrong.

Hostile messages on every topic, every service killed with SIGKILL mid-run, the broker
killed with SIGKILL, PostgreSQL stopped for ~20 s, qBittorrent away, Audiobookshelf away
for ~30 s. After each, no service has exited on its own, the book asked for is imported,
nothing is charged to a book, and the dead-letter topic holds exactly the hostile
messages: the record is a clean run's.

The library holds book 1 of five; each fault gets one of the missing books. The tests run
in order on one pipeline; discovery does not run on its own
(`ABAUTO_DISCOVERY_ON_START=false`), so a book moves only when a test asks for it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

import devstack
from devstack import postgres
from devstack.qbittorrent import restart_qbittorrent, stop_qbittorrent
from devstack.stack import default_state_dir
from ops.event_examples import example_event
from sandbox.audio import AudioTags, write_audio
from sandbox.pipeline import SERVICES, Provisioned, Services, provision, unprovision
from sandbox.world import AUTHOR, BOOKS, SERIES, Sandbox
from shared import events as ev
from shared import topics
from shared.settings import KafkaSettings
from tests.support.pipelines import Pipeline
from tests.support.recording import clean_record, snapshot
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

CONSUMERS = {
    topics.LIBRARY: 1,  # the recorder
    topics.CATALOGUE: 1,
    topics.WANTED: 2,  # the recorder and the downloader
    topics.DOWNLOADS: 3,  # the recorder, the importer and the downloader (blocklists)
    topics.IMPORTS: 1,
    topics.OPERATIONS: 1,
    topics.HEARTBEATS: 1,
    topics.COMMANDS: 1,  # discovery
}
"""How many consumer groups read each topic: each dead-letters a message it cannot read."""
EXAMPLE_OF: dict[str, type[ev.Event[Any]]] = {
    topics.LIBRARY: ev.BookDiscovered,
    topics.CATALOGUE: ev.SeriesAssessed,
    topics.WANTED: ev.BookRequested,
    topics.DOWNLOADS: ev.DownloadQueued,
    topics.IMPORTS: ev.ImportCompleted,
    topics.OPERATIONS: ev.TaskFinished,
    topics.HEARTBEATS: ev.HeartbeatSent,
    topics.COMMANDS: ev.DiscoveryRequested,
}


def _hostile(topic: str) -> list[bytes]:
    """One message of each class that once stopped a consumer, shaped for `topic`."""
    valid = json.loads(example_event(EXAMPLE_OF[topic]).to_json())
    overflow = {**valid, "occurred_at": "9999-12-31T23:00:00-05:00"}
    too_big_a_number = {**valid, "schema_version": 10**30}
    unknown = {**valid, "event_type": "wanted.book_stolen"}
    return [
        b"\xff\xfe not even text",
        json.dumps(overflow).encode(),
        json.dumps(too_big_a_number).encode(),
        json.dumps(unknown).encode(),
        b'{"event_type": "library.book_discovered", "x": ' + b"[" * 50_000 + b"]" * 50_000,
        b'{"event_type": "download.completed", "pad": "' + b"x" * 900_000 + b'"}',
    ]


class Faults(Pipeline):
    """The running pipeline, and ways to look at its record and its topics."""

    def __init__(self, stack: Any, run: Provisioned, world: Sandbox, services: Services) -> None:
        super().__init__(run, world, services)
        self.stack = stack
        self.kafka = KafkaSettings(
            kafka_bootstrap_servers=run.kafka_bootstrap, kafka_topic_namespace=run.namespace
        )
        self.hostile_keys: dict[str, int] = {}  # key → dead letters expected

    async def request(self, position: int) -> ev.BookRef:
        book = BOOKS[position - 1]
        ref = ev.BookRef(
            title=book.title,
            author=AUTHOR,
            asin=book.asin,
            series=SERIES,
            series_number=str(position),
        )
        await self.publish(ev.BookRequested.create(ev.BookRequestedPayload(book=ref), producer="t"))
        return ref

    async def status_of(self, ref: ev.BookRef) -> str | None:
        rows = await self.rows(
            "SELECT download_status FROM missing_books WHERE book_key = $1", ref.key
        )
        return rows[0]["download_status"] if rows else None

    async def imported(self, ref: ev.BookRef, within: float) -> None:
        async def done() -> bool:
            self.alive()
            return await self.status_of(ref) == "imported"

        await wait_until(done, within=within, interval=0.5, what=f"{ref.title} imported")

    async def failures(self) -> list[dict[str, Any]]:
        return await self.rows("SELECT task_name, error_code, item_key FROM failed_attempts")

    def alive(self) -> None:
        assert not self.services.exited(), {
            name: self.services.log_tail(name) for name in self.services.exited()
        }

    async def dead_letters(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in await self.messages(topics.DEAD_LETTER)]

    async def facts(self) -> list[ev.Event[Any]]:
        """Every event on the domain topics that decodes, in partition order."""
        decoded = []
        for topic in topics.DOMAIN_TOPICS:
            for raw in await self.messages(topic):
                with contextlib.suppress(ev.EventDecodeError):
                    decoded.append(ev.parse_event(raw))
        return decoded

    async def messages(self, name: str) -> list[bytes]:
        """Every message of topic `name` so far, partition by partition."""
        topic = self.kafka.topic(name)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.run.kafka_bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)
                          or await _partitions(consumer, topic)]  # fmt: skip
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            found: dict[int, list[bytes]] = {}
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                for part, records in (await consumer.getmany(timeout_ms=500)).items():
                    found.setdefault(part.partition, []).extend(r.value for r in records)
            return [raw for partition in sorted(found) for raw in found[partition]]
        finally:
            await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


def _key_of(letter: dict[str, Any]) -> str:
    raw = letter.get("original_key_b64")
    return base64.b64decode(raw).decode(errors="replace") if raw else ""


@pytest.fixture(scope="module")
async def faults(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Faults]:
    if not (default_state_dir() / "stack.json").exists():
        pytest.skip("the fault suite stops and starts the project's own stack only")
    info = devstack.StackInfo(stack.kafka_bootstrap, stack.database_url, stack.admin_database_url)
    run = await provision(info, f"flt{uuid.uuid4().hex[:6]}")
    root = tmp_path_factory.mktemp("faults")
    world = Sandbox(root, owned=(1,))
    services = Services(run, {}, root / "logs")
    try:
        await world.start()
        services.environment = {
            **world.environment(),
            "ABAUTO_DISCOVERY_ON_START": "false",
            "ABAUTO_RECONCILE_INTERVAL_SECONDS": "5",
        }
        await services.start()
        yield Faults(stack, run, world, services)
    finally:
        await services.stop()
        await world.stop()
        await unprovision(info, run)


async def test_hostile_messages_on_every_topic_stop_no_service(faults: Faults) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=faults.run.kafka_bootstrap, max_request_size=1_000_000
    )
    await producer.start()
    try:
        for topic, consumers in CONSUMERS.items():
            for n, message in enumerate(_hostile(topic)):
                key = f"hostile-{topic}-{n}"
                faults.hostile_keys[key] = consumers
                await producer.send_and_wait(faults.kafka.topic(topic), message, key=key.encode())
        # For the recorder alone: an event dated 9999 (it would win every merge for ever),
        # and an event id reused with other content (which copy won depended on batching).
        forged = example_event(ev.BookRemoved).model_copy(
            update={"occurred_at": datetime(9999, 1, 1, tzinfo=UTC)}
        )
        original = example_event(ev.TaskFinished)
        conflicting = original.model_copy(
            update={"payload": original.payload.model_copy(update={"items_failed": 7})}
        )
        for topic, key, event in (  # the original and its conflicting copy: one partition
            (topics.LIBRARY, "hostile-forged-date", forged),
            (topics.OPERATIONS, "hostile-conflicting-id", original),
            (topics.OPERATIONS, "hostile-conflicting-id", conflicting),
        ):
            await producer.send_and_wait(
                faults.kafka.topic(topic), event.to_json(), key=key.encode()
            )
        faults.hostile_keys |= {"hostile-forged-date": 1, "hostile-conflicting-id": 1}
    finally:
        await producer.stop()

    async def all_dead_lettered() -> bool:
        faults.alive()
        letters = [_key_of(letter) for letter in await faults.dead_letters()]
        return all(letters.count(k) >= n for k, n in faults.hostile_keys.items())

    await wait_until(all_dead_lettered, within=90, interval=1.0, what="every hostile letter")


async def _outage(faults: Faults, seconds: float) -> None:
    """Let an outage last `seconds`, checking that every service stays up through it."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        faults.alive()
        await asyncio.sleep(0.5)  # the outage's own duration, not synchronisation


async def test_every_service_killed_mid_run_and_restarted_loses_no_book(faults: Faults) -> None:
    ref = await faults.request(2)

    async def downloading() -> bool:
        return await faults.status_of(ref) in ("downloading", "completed", "imported")

    await wait_until(downloading, within=60, interval=0.2, what="the download under way")
    for name in SERVICES:
        await faults.services.kill(name)
    for name in SERVICES:
        await faults.services.restart(name)
    await faults.imported(ref, within=150)


async def test_the_broker_killed_and_restarted_loses_no_book(faults: Faults) -> None:
    broker = devstack.status()["kafka"]
    assert isinstance(broker, dict)
    os.kill(int(broker["pid"]), signal.SIGKILL)
    try:
        await _outage(faults, 5)
    finally:
        await asyncio.to_thread(devstack.up)  # the broker restarts on its port, data kept
    await faults.imported(await faults.request(4), within=150)


async def test_a_book_asked_for_while_postgresql_is_down_is_still_downloaded(
    faults: Faults,
) -> None:
    """It was dead-lettered after ~3 s of a 21 s outage and never downloaded."""
    postgres.stop_postgres(default_state_dir())
    try:
        ref = await faults.request(3)
        await _outage(faults, 20)
    finally:
        await asyncio.to_thread(devstack.up)
    await faults.imported(ref, within=150)


async def test_a_book_asked_for_while_qbittorrent_is_away_is_still_downloaded(
    faults: Faults,
) -> None:
    leecher = faults.world.leecher
    assert leecher is not None
    stop_qbittorrent(leecher)
    try:
        ref = await faults.request(5)
        await _outage(faults, 10)
    finally:
        faults.world.leecher = restart_qbittorrent(leecher, faults.world.root / "qbit")
    await faults.imported(ref, within=150)


async def test_an_import_while_audiobookshelf_is_away_completes_once_it_is_back(
    faults: Faults,
) -> None:
    """The importer made an ABS outage a final "import failed" and left the files."""
    assert faults.world.abs is not None
    content = faults.world.root / "downloads" / "Away and Back"
    tags = AudioTags(title="Away and Back", author=AUTHOR, album="Away and Back")
    write_audio(content / "Away and Back.m4b", tags)  # real audio: ABS skips what won't decode
    ref = ev.BookRef(title="Away and Back", author=AUTHOR, asin="B0AWAYBACK")
    completed = ev.DownloadCompletedPayload(
        book=ref, info_hash="cd" * 20, content_path=str(content), files=["Away and Back.m4b"]
    )
    await faults.world.abs.go_away()
    try:
        await faults.publish(ev.DownloadCompleted.create(completed, producer="t"))
        await _outage(faults, 30)
    finally:
        await faults.world.abs.come_back()

    async def listed() -> bool:
        faults.alive()
        assert faults.world.abs is not None
        return any(item.title == "Away and Back" for item in faults.world.abs.items())

    await wait_until(listed, within=90, interval=0.5, what="the item in Audiobookshelf")
    await faults.imported(ref, within=30)  # and the record says so


async def test_the_record_is_a_clean_runs_and_the_dead_letters_exactly_the_hostile_ones(
    faults: Faults,
) -> None:
    faults.alive()
    assert await faults.failures() == []
    gaps = await faults.rows(
        "SELECT series_number, download_status FROM missing_books WHERE series_name = $1 "
        "ORDER BY series_number",
        SERIES,
    )
    assert gaps == [{"series_number": str(n), "download_status": "imported"} for n in (2, 3, 4, 5)]
    downloads = await faults.rows("SELECT status, count(*) AS n FROM downloads GROUP BY 1")
    # Books 2 to 5, and the download imported through the Audiobookshelf outage.
    assert downloads == [{"status": "completed", "n": 5}]  # no duplicate, none failed
    letters = [_key_of(letter) for letter in await faults.dead_letters()]
    expected = sorted(k for k, n in faults.hostile_keys.items() for _ in range(n))
    assert sorted(letters) == expected
    # The record is what a clean run gives: the same facts recorded in order, in process
    # (compared once the recorder has caught up with the last events published).
    comparison: list[dict[str, Any]] = []

    async def same_as_a_clean_run() -> bool:
        connection = await asyncpg.connect(faults.run.owner_url.replace("+asyncpg", ""))
        try:
            live = await snapshot(connection)
        finally:
            await connection.close()
        clean = await clean_record(faults.stack, await faults.facts(), batch_size=1)
        comparison[:] = [live, clean]
        return live == clean

    with contextlib.suppress(TimeoutError):
        await wait_until(same_as_a_clean_run, within=60, interval=2, what="the same record")
    live, clean = comparison
    assert live == clean
