"""The whole pipeline for end-to-end tests: the four services as separate processes on
the real stack, in a sandbox world, and ways to look at their record (and, if asked, at
their metrics, through a real Prometheus scraping them)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

import devstack
from devstack.prometheus import Prometheus, start_prometheus, stop_prometheus
from sandbox.pipeline import Provisioned, Services, provision, unprovision
from sandbox.world import SERIES, Sandbox
from shared import events as ev
from shared.messaging import EventProducer
from shared.settings import KafkaSettings


class Pipeline:
    """A running pipeline, and ways to look at its record."""

    def __init__(
        self,
        run: Provisioned,
        world: Sandbox,
        services: Services,
        prometheus: Prometheus | None = None,
    ) -> None:
        self.run = run
        self.world = world
        self.services = services
        self.prometheus = prometheus

    async def rows(self, query: str, *args: Any) -> list[dict[str, Any]]:
        """The rows a query over the record returns."""
        connection = await asyncpg.connect(self.run.owner_url.replace("+asyncpg", ""))
        try:
            return [dict(r) for r in await connection.fetch(query, *args)]
        finally:
            await connection.close()

    async def publish(self, event: ev.Event[Any]) -> None:
        """Publish one event into this pipeline's topics."""
        settings = KafkaSettings(
            kafka_bootstrap_servers=self.run.kafka_bootstrap,
            kafka_topic_namespace=self.run.namespace,
        )
        producer = EventProducer(settings, client_id="e2e")
        await producer.start()
        try:
            await producer.publish(event)
        finally:
            await producer.stop()

    async def gaps(self) -> list[dict[str, Any]]:
        """The gaps recorded in the sandbox series, how far each got, in series order."""
        return await self.rows(
            "SELECT m.title, m.series_number, m.download_status, d.status AS download, "
            "d.abs_import_status AS imported, b.abs_id FROM missing_books m "
            "LEFT JOIN downloads d ON d.missing_book_id = m.id "
            "LEFT JOIN books b ON b.id = m.book_id "
            "WHERE m.series_name = $1 ORDER BY m.series_number",
            SERIES,
        )

    def alive(self) -> None:
        """Fail at once if a service process has exited."""
        assert not self.services.exited(), self.services.exited()


@asynccontextmanager
async def running_pipeline(
    stack: Any, world: Sandbox, prefix: str, *, scraped: bool = False
) -> AsyncIterator[Pipeline]:
    """The four services on a freshly provisioned namespace and database, in `world`;
    with `scraped`, a Prometheus scraping them from the start."""
    info = devstack.StackInfo(stack.kafka_bootstrap, stack.database_url, stack.admin_database_url)
    run = await provision(info, f"{prefix}{uuid.uuid4().hex[:6]}")
    services = Services(run, {}, Path(world.root) / "logs")
    prometheus = None
    try:
        await world.start()
        services.environment = world.environment()
        await services.start()
        if scraped:
            home = Path(world.root) / "prometheus"
            prometheus = await asyncio.to_thread(start_prometheus, home, services.scrape_targets())
        yield Pipeline(run, world, services, prometheus)
    finally:
        if prometheus is not None:
            await asyncio.to_thread(stop_prometheus, prometheus)
        await services.stop()
        await world.stop()
        await unprovision(info, run)
