"""`/healthz` (the process is alive), `/readyz` (Kafka and PostgreSQL answer) and
`/metrics` (Prometheus's text format, see `shared.metrics`) over HTTP; the same readiness
goes into every heartbeat (`shared.heartbeat`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

from shared import metrics
from shared.conditions import Conditions

logger = logging.getLogger(__name__)

Check = Callable[[], Awaitable[bool]]
CHECK_TIMEOUT_S = 3.0


async def _run_check(check: Check) -> bool:
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return False


@dataclass(frozen=True)
class Readiness:
    """Whether a process can work: each check's result, and what is away or refusing."""

    ready: bool
    checks: dict[str, bool]
    unavailable: dict[str, str]
    refused: dict[str, str]


async def readiness(checks: Mapping[str, Check], conditions: Conditions) -> Readiness:
    """Run every check (each within `CHECK_TIMEOUT_S`) and read the conditions: ready only
    if every check passes and nothing is away or refusing."""
    results = {name: await _run_check(check) for name, check in checks.items()}
    problems = conditions.describe()
    return Readiness(
        all(results.values()) and conditions.ready,
        results,
        problems["unavailable"],
        problems["refused"],
    )


def health_app(
    service: str, checks: Mapping[str, Check], conditions: Conditions | None = None
) -> web.Application:
    """An aiohttp application answering the two probes for `service` (not ready while a
    check fails or a dependency is away or refused our credentials: `conditions`) and
    Prometheus's scrapes."""
    conditions = conditions or Conditions()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"service": service, "status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        now = await readiness(checks, conditions)
        body = {
            "service": service,
            "ready": now.ready,
            "checks": now.checks,
            "unavailable": now.unavailable,
            "refused": now.refused,
        }
        return web.json_response(body, status=200 if now.ready else 503)

    async def scrape(request: web.Request) -> web.Response:
        body, content_type = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", scrape)
    return app


async def start_health_server(
    app: web.Application, host: str, port: int
) -> tuple[web.AppRunner, int]:
    """Serve `app`; return the runner (to clean up) and the bound port (0 picks one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = int(runner.addresses[0][1])
    logger.info(
        "health endpoints on http://%s:%d",
        host,
        bound,
        extra={"event": "service.listening", "port": bound},
    )
    return runner, bound
