"""Discovery on a 20,000-book library: a full first run, then a re-run on the unchanged
library.

    make bench-discovery        (python -m bench.discovery [--books N] [--rate N])

1. Starts (or reuses) the local stack; a fresh database and topic namespace.
2. Starts the fakes in a process of their own (`bench.discovery_world`): a generated
   library (2,000 series, 4,000 authors, messy) in the fake Audiobookshelf, its series
   in the fake Audible, which refuses (429, Retry-After) beyond `--limit` requests a
   second. Discovery reads them at `--rate` requests a second, politely.
3. Runs `Discovery.run` (LIBRARY_SCAN, then SERIES) in this process, publishing to the
   real Kafka: events are counted from the topics' end offsets.
4. Runs the real recorder until it has recorded the burst (its time is printed: the
   re-run reads the record, as in production).
5. Re-runs discovery in the same process on the unchanged library: its baseline is the
   first run, in the same run of the bench.

Peak RSS is this process's high-water mark: discovery, its Kafka producer and engine,
not the fakes. The last line is machine-readable:
items=<n> seconds=<s> catalogue_requests=<n> events=<n> rerun_seconds=<s>
rerun_catalogue_requests=<n> peak_rss_mb=<n>
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

from pydantic import SecretStr

import devstack
from bench.recorder import clean_up, end_offsets, fresh_database, peak_rss_mb, run_recorder
from services.discovery.catalogue import AudibleCatalogue
from services.discovery.service import Discovery, discovery_http
from services.discovery.settings import DiscoverySettings
from shared import topics
from shared.clients.audiobookshelf import AudiobookshelfClient
from shared.conditions import Conditions
from shared.database import create_engine_from
from shared.messaging import EventProducer, ensure_topics
from shared.runtime import ServiceContext
from shared.settings import KafkaSettings


class World:
    """The fakes' process: its URLs, and its answers to `stats`."""

    def __init__(self, process: asyncio.subprocess.Process, urls: dict[str, str]) -> None:
        self.process = process
        self.urls = urls

    @classmethod
    async def start(cls, books: int, limit: int) -> World:
        """Generate the library and serve it."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.discovery_world", "--books", str(books),
            "--rate-limit", str(limit),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        world = cls(process, {})
        world.urls = await world._answer()
        return world

    async def ask(self, command: str) -> dict[str, Any]:
        """One command's answer."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return await self._answer()

    async def stop(self) -> None:
        """End the fakes' process."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        await asyncio.wait_for(self.process.wait(), 30)

    async def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        answer: dict[str, Any] = json.loads(await self.process.stdout.readline())
        return answer


async def events_in(kafka: KafkaSettings) -> int:
    """Events in the namespace's domain topics so far."""
    return sum((await end_offsets(kafka)).values())


async def timed_run(discovery: Discovery, world: World) -> tuple[float, int, int]:
    """One discovery run: seconds, catalogue requests, of them refused (429)."""
    before = await world.ask("stats")
    start = time.perf_counter()
    await discovery.run()
    seconds = time.perf_counter() - start
    after = await world.ask("stats")
    return seconds, after["requests"] - before["requests"], after["refused"] - before["refused"]


async def main(books: int, rate: float, limit: int) -> None:
    """Run discovery twice against the generated library and print the figures."""
    info = await asyncio.to_thread(devstack.up)
    tag = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(
        kafka_bootstrap_servers=info.kafka_bootstrap, kafka_topic_namespace=f"bench-{tag}"
    )
    await ensure_topics(kafka, topics.ALL_TOPICS)
    url = await fresh_database(info, f"bench_rec_{tag}")
    world = await World.start(books, limit)
    settings = DiscoverySettings(
        abs_url=world.urls["abs"],
        abs_api_key=SecretStr(world.urls["key"]),
        audible_base_url=world.urls["audible"],
        catalogue_rate_per_second=rate,
        kafka_bootstrap_servers=kafka.kafka_bootstrap_servers,
        kafka_topic_namespace=kafka.kafka_topic_namespace,
    )
    engine = create_engine_from(settings)
    producer = EventProducer(settings, client_id="discovery")
    await producer.start()
    try:
        async with discovery_http(settings) as http:
            context = ServiceContext(
                "discovery", settings, engine, producer, asyncio.Event(), Conditions()
            )
            library = AudiobookshelfClient(settings.abs_url, settings.abs_api_key, http)
            catalogue = AudibleCatalogue(http, base_url=settings.audible_base_url)
            discovery = Discovery(context, library, catalogue)
            seconds, requests, refused = await timed_run(discovery, world)
            events = await events_in(kafka)
            print(
                f"first run: {seconds:.1f}s, {requests} catalogue requests ({refused} refused "
                f"with 429), {events} events",
                file=sys.stderr,
            )
            settle, recorder_rss = await run_recorder(url, kafka, events)
            print(
                f"the recorder settled the burst of {events} events in {settle:.1f}s "
                f"(start-up included; peak RSS {recorder_rss:.0f} MB)",
                file=sys.stderr,
            )
            rerun, rerun_requests, rerun_refused = await timed_run(discovery, world)
            rerun_events = await events_in(kafka) - events
            print(
                f"re-run: {rerun:.1f}s, {rerun_requests} catalogue requests ({rerun_refused} "
                f"refused), {rerun_events} events",
                file=sys.stderr,
            )
    finally:
        await producer.stop()
        await engine.dispose()
        await world.stop()
        await clean_up(info, kafka, tag)
    print(
        f"items={books} seconds={seconds:.1f} catalogue_requests={requests} events={events} "
        f"rerun_seconds={rerun:.1f} rerun_catalogue_requests={rerun_requests} "
        f"peak_rss_mb={peak_rss_mb(os.getpid()):.0f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=15.0, help="catalogue requests/s")
    parser.add_argument("--limit", type=int, default=20, help="the catalogue's limit/s")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.books, arguments.rate, arguments.limit))
