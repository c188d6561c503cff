"""Recorder throughput: 100,000 realistic events end to end, against a raw-asyncpg baseline.

    make bench-recorder        (python -m bench.recorder [--events N])

1. Starts (or reuses) the local stack; makes two fresh databases and a fresh topic
   namespace, so runs never see each other.
2. Produces N mixed events (library sync, gaps, download lifecycles with retries, tasks,
   failures) to Kafka.
3. Runs the real recorder process until every event is recorded: events/s is N divided
   by the time from the process's start to the last event committed. Peak RSS is the
   process's high-water mark (VmHWM).
4. Baseline, same run: the same events' rows written with raw asyncpg batched upserts
   (executemany, one transaction per batch of the recorder's size), no Kafka, no merge.

It runs three times (fresh namespace and databases each time) and prints the medians,
and the highest peak RSS. The last line is machine-readable:
events_per_s=<n> baseline_events_per_s=<n> ratio=<x> peak_rss_mb=<n>
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError
from sqlalchemy.engine import make_url

import devstack
from bench.baseline import write_baseline
from ops import migration_runner
from sandbox.histories import Clock, book_history
from shared import events as ev
from shared import topics
from shared.messaging import EventProducer, ensure_topics
from shared.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[1]
BATCH = 2000
# Extra interpreter arguments for the recorder, to profile it in place, e.g.
# BENCH_RECORDER_PYTHON_ARGS="-m cProfile -o /tmp/recorder.prof" python -m bench.recorder
PYTHON_ARGS = os.environ.get("BENCH_RECORDER_PYTHON_ARGS", "").split()


def workload(total: int) -> list[ev.Event[Any]]:
    """About `total` events: a library sync of owned books plus missing books' histories."""
    clock = Clock()
    events: list[ev.Event[Any]] = []
    n = 0
    while len(events) < total * 0.8:
        events += book_history(n, clock, succeed=n % 5 != 0)
        n += 1
    owned = 0
    while len(events) < total:
        payload = ev.BookDiscoveredPayload(
            abs_id=f"owned_{owned:07d}",
            library_id="lib",
            title=f"Owned book {owned}",
            authors=[f"Author {owned % 97}"],
            series=[ev.SeriesPosition(name=f"Series {owned % 331}", sequence=str(owned % 9))],
            duration_minutes=500 + owned % 300,
        )
        events.append(ev.BookDiscovered.create(payload, producer="bench"))
        owned += 1
    return events[:total]


async def fresh_database(info: devstack.StackInfo, name: str) -> str:
    """A new, migrated database; returns its URL."""
    admin = await asyncpg.connect(info.admin_database_url.replace("+asyncpg", ""))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}" OWNER abauto')
    finally:
        await admin.close()
    url = make_url(info.database_url).set(database=name).render_as_string(False)
    os.environ["DATABASE_URL"] = url
    await asyncio.to_thread(migration_runner.upgrade)
    return url


async def produce(kafka: KafkaSettings, events: list[ev.Event[Any]]) -> None:
    """Publish every event (acks=all) before the recorder starts."""
    producer = EventProducer(kafka, client_id="bench")
    await producer.start()
    try:
        for start in range(0, len(events), 10_000):
            await producer.publish_many(events[start : start + 10_000])
    finally:
        await producer.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """The process's resident-set high-water mark, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


async def end_offsets(kafka: KafkaSettings) -> dict[TopicPartition, int]:
    """Where every domain topic partition ends, once everything is produced."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(kafka.topic(topic), p)
            for topic in topics.DOMAIN_TOPICS
            if topic != topics.HEARTBEATS  # the recorder's own, not the benchmark's
            for p in range(kafka.kafka_topic_partitions)
        ]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def progress(
    admin: AIOKafkaAdminClient, group: str, ends: dict[TopicPartition, int]
) -> tuple[int, bool]:
    """Events the group has committed, and whether that is all of them (one cheap request;
    the recorder commits offsets only after its database transaction committed)."""
    try:
        committed = await admin.list_consumer_group_offsets(group)
    except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
        return 0, False  # a fresh broker creates its offsets topic on first use
    done = sum(committed[tp].offset for tp in ends if tp in committed and committed[tp].offset > 0)
    return done, done >= sum(ends.values())


async def run_recorder(url: str, kafka: KafkaSettings, total: int) -> tuple[float, float]:
    """Seconds until all `total` events are recorded, and the recorder's peak RSS."""
    ends = await end_offsets(kafka)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await admin.start()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.kafka_bootstrap_servers,
        "ABAUTO_KAFKA_TOPIC_NAMESPACE": kafka.kafka_topic_namespace,
        "ABAUTO_RECORDER_BATCH_SIZE": str(BATCH),
        "ABAUTO_LOG_LEVEL": "WARNING",
    }
    db = await asyncpg.connect(url.replace("+asyncpg", ""))
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, *PYTHON_ARGS, "-m", "services.recorder", cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = started + 600
        first: tuple[float, int] | None = None
        while True:
            done, finished = await progress(admin, kafka.topic("recorder"), ends)
            if first is None and done:
                first = (time.perf_counter() - started, done)
            if finished:
                break
            if process.returncode is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"recorder stopped or stalled (exit {process.returncode})")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        if first is not None:
            steady = (total - first[1]) / max(elapsed - first[0], 1e-9)
            print(
                f"first batch committed after {first[0]:.2f}s (start-up included); "
                f"then {steady:.0f} events/s",
                file=sys.stderr,
            )
        print(f"recorder cpu: {cpu_seconds(process.pid):.1f}s", file=sys.stderr)
        recorded = await db.fetchval(
            "SELECT count(*) FROM processed_events WHERE event_type <> 'service.heartbeat_sent'"
        )
        if recorded != total:
            raise RuntimeError(f"offsets committed but {recorded} of {total} events recorded")
        return elapsed, peak_rss_mb(process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
        await asyncio.wait_for(process.wait(), 30)
        await db.close()
        await admin.close()


async def clean_up(info: devstack.StackInfo, kafka: KafkaSettings, tag: str) -> None:
    """Delete this run's topics and databases, so runs do not pile up in the stack."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.delete_topics([kafka.topic(topic) for topic in topics.ALL_TOPICS])
    finally:
        await admin.close()
    connection = await asyncpg.connect(info.admin_database_url.replace("+asyncpg", ""))
    try:
        for name in (f"bench_rec_{tag}", f"bench_base_{tag}"):
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


async def once(info: devstack.StackInfo, events: list[ev.Event[Any]]) -> tuple[float, float, float]:
    """One measurement in a fresh namespace and fresh databases: recorder events/s,
    baseline events/s, recorder peak RSS (MiB)."""
    tag = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(
        kafka_bootstrap_servers=info.kafka_bootstrap, kafka_topic_namespace=f"bench-{tag}"
    )
    await ensure_topics(kafka, topics.ALL_TOPICS)
    try:
        await produce(kafka, events)
        recorder_url = await fresh_database(info, f"bench_rec_{tag}")
        seconds, rss = await run_recorder(recorder_url, kafka, len(events))
        baseline_url = await fresh_database(info, f"bench_base_{tag}")
        baseline_seconds = await write_baseline(baseline_url, events, BATCH)
    finally:
        await clean_up(info, kafka, tag)
    print(
        f"recorder: {seconds:.2f}s end to end; baseline: {baseline_seconds:.2f}s", file=sys.stderr
    )
    return len(events) / seconds, len(events) / baseline_seconds, rss


async def main(total: int, repeat: int) -> None:
    """Run the benchmark `repeat` times and print the medians (peak RSS: the maximum)."""
    info = await asyncio.to_thread(devstack.up)
    events = workload(total)
    print(f"workload: {len(events)} events, {repeat} runs", file=sys.stderr)
    runs = [await once(info, events) for _ in range(repeat)]
    rate = statistics.median(r[0] for r in runs)
    baseline_rate = statistics.median(r[1] for r in runs)
    print(
        f"events_per_s={rate:.0f} baseline_events_per_s={baseline_rate:.0f} "
        f"ratio={rate / baseline_rate:.2f} peak_rss_mb={max(r[2] for r in runs):.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the medians are printed")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.events, arguments.repeat))
