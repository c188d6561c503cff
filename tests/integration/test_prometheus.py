"""The devstack's Prometheus: a real server scraping a service's health port answers
queries with what the service counted, and stops when asked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from devstack.prometheus import Prometheus, start_prometheus, stop_prometheus
from shared.health import health_app, start_health_server
from shared.metrics import RELEASES_BLOCKLISTED


@pytest.fixture
async def scraping(tmp_path: Path) -> AsyncIterator[Prometheus]:
    """Prometheus scraping this process's `/metrics` as job `tests`."""
    runner, port = await start_health_server(health_app("tests", {}), "127.0.0.1", 0)
    server = await asyncio.to_thread(
        start_prometheus, tmp_path / "prometheus", {"tests": [f"127.0.0.1:{port}"]}
    )
    try:
        yield server
    finally:
        await asyncio.to_thread(stop_prometheus, server)
        await runner.cleanup()


async def test_a_query_gives_what_the_service_counted(scraping: Prometheus) -> None:
    RELEASES_BLOCKLISTED.labels("import").inc(3)
    counted = REGISTRY.get_sample_value(  # this process's total so far
        "abauto_releases_blocklisted_total", {"stage": "import"}
    )
    await asyncio.to_thread(scraping.wait_for_scrape, after=time.time(), timeout=30)

    query = 'abauto_releases_blocklisted_total{job="tests", stage="import"}'
    assert await asyncio.to_thread(scraping.value, query) == counted
    assert await asyncio.to_thread(scraping.value, 'sum(up{job="tests"})') == 1
    assert await asyncio.to_thread(scraping.value, "sum(no_such_metric)") is None


def test_stopping_ends_the_server(tmp_path: Path) -> None:
    server = start_prometheus(tmp_path / "prometheus", {})
    stop_prometheus(server)
    assert not Path(f"/proc/{server.pid}").exists()  # exited, and reaped
    stop_prometheus(server)  # idempotent
    assert (server.home / "data").is_dir()  # its data stayed where it was told
