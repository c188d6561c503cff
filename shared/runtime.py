"""Running one service process: the single place that creates and closes its clients.

    asyncio.run(run_service("recorder", RecorderSettings(), recorder_main))

`run_service` sets up JSON logs and the health endpoints, waits for Kafka (producer,
topics) and PostgreSQL however long they are away (`shared.dependencies`: one line when
the wait starts, "not ready" meanwhile), then runs `main(context)` until SIGTERM/SIGINT
sets `context.stop`; whatever happens, it closes everything it opened. From the moment
Kafka answers, it sends the process's heartbeats (`shared.heartbeat`), with the same
readiness as `/readyz`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import topics
from shared.conditions import Conditions
from shared.database import create_engine_from
from shared.dependencies import wait_for
from shared.health import Check, Readiness, health_app, readiness, start_health_server
from shared.heartbeat import LAST_HEARTBEAT_S, Identity, send_heartbeats
from shared.logs import configure_logging
from shared.messaging import EventProducer, ensure_topics
from shared.settings import ServiceSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceContext:
    """What a service's main coroutine gets: its settings and the process-wide clients."""

    name: str
    settings: ServiceSettings
    engine: AsyncEngine
    producer: EventProducer
    stop: asyncio.Event
    conditions: Conditions


ServiceMain = Callable[[ServiceContext], Awaitable[None]]
S = TypeVar("S", bound=ServiceSettings)


def settings_or_exit(cls: type[S], service: str) -> S:
    """The service's settings from the environment, or a short message naming what is
    missing or invalid (never the values) and exit status 2."""
    try:
        return cls()
    except ValidationError as error:
        problems = [
            f"  {'.'.join(str(p) for p in e['loc']).upper() or '?'}: {e['msg']}"
            for e in error.errors()
        ]
        print(f"{service}: invalid settings\n" + "\n".join(problems), file=sys.stderr)
        raise SystemExit(2) from None


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


def _database_check(engine: AsyncEngine) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001  (readiness reports any failure as not ready)
            return False
        return True

    return check


async def run_service(name: str, settings: ServiceSettings, main: ServiceMain) -> None:
    """Run `main` as service `name` until it returns or a stop signal arrives."""
    configure_logging(name, settings.log_level)
    identity = Identity.of_this_process(name)
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    conditions = Conditions()
    engine = create_engine_from(settings)
    producer = EventProducer(settings, client_id=name)
    checks = {"kafka": producer.is_connected, "database": _database_check(engine)}
    runner = None
    beating: asyncio.Task[None] | None = None
    try:
        app = health_app(name, checks, conditions)
        runner, _ = await start_health_server(app, settings.health_host, settings.health_port)
        if not await _wait_for_kafka(settings, producer, stop, conditions):
            return
        beating = _heartbeats(identity, settings, producer, checks, conditions, stop)
        if not await _wait_for_postgresql(engine, stop, conditions):
            return
        # Everything alive now lives as long as the process: keep it out of the cyclic
        # collector's way. Services allocate many short-lived objects per batch and few
        # cycles, so the young generation is collected far less often than by default.
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
        logger.info("%s started", name, extra={"event": "service.started"})
        await main(ServiceContext(name, settings, engine, producer, stop, conditions))
    finally:
        if beating is not None:
            if stop.is_set():  # a clean stop: let the last heartbeat say so
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(beating), LAST_HEARTBEAT_S + 1)
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
        await producer.stop()
        await engine.dispose()
        logger.info("%s stopped", name, extra={"event": "service.stopped"})


async def _wait_for_kafka(
    settings: ServiceSettings, producer: EventProducer, stop: asyncio.Event, conditions: Conditions
) -> bool:
    """The producer connected and the topics there; False if a stop came first."""

    async def kafka() -> None:
        await producer.start()
        await ensure_topics(settings, topics.ALL_TOPICS)

    return await wait_for("Kafka", kafka, stop=stop, conditions=conditions)


async def _wait_for_postgresql(
    engine: AsyncEngine, stop: asyncio.Event, conditions: Conditions
) -> bool:
    """PostgreSQL answering; False if a stop came first."""

    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return await wait_for("PostgreSQL", database, stop=stop, conditions=conditions)


def _heartbeats(
    identity: Identity,
    settings: ServiceSettings,
    producer: EventProducer,
    checks: Mapping[str, Check],
    conditions: Conditions,
    stop: asyncio.Event,
) -> asyncio.Task[None]:
    """Send this process's heartbeats from now on (a bug in them is logged: the service
    goes on, and shows as stale)."""

    async def now() -> Readiness:
        return await readiness(checks, conditions)

    task = asyncio.create_task(
        send_heartbeats(identity, settings.heartbeat_interval_seconds, producer, now, stop),
        name="heartbeats",
    )
    task.add_done_callback(_report_broken)
    return task


def _report_broken(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error(
            "heartbeats stopped", exc_info=task.exception(), extra={"event": "heartbeat.stopped"}
        )
