"""Every service process says it is alive: a "heartbeat sent" every
`ABAUTO_HEARTBEAT_INTERVAL_SECONDS`, carrying its readiness as `/readyz` would answer.
The recorder keeps the newest per process, and `abauto status` tells from them which
services are alive.

A heartbeat that cannot be sent (Kafka away or slow) is skipped, not retried: the next
one says the same thing, newer. One line when sending starts failing, one when it works
again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata

from shared import events as ev
from shared.faults import is_transient
from shared.health import Readiness
from shared.task_runs import Publisher

logger = logging.getLogger(__name__)

LAST_HEARTBEAT_S = 5.0
"""How long a stopping process tries to send its last heartbeat."""


@dataclass(frozen=True)
class Identity:
    """Which process a heartbeat is from."""

    service: str
    hostname: str
    pid: int
    started_at: datetime
    version: str | None

    @property
    def instance_id(self) -> str:
        """`<hostname>:<pid>`: unique among the processes running at one time."""
        return f"{self.hostname}:{self.pid}"

    @classmethod
    def of_this_process(cls, service: str) -> Identity:
        """This process, started now."""
        return cls(service, socket.gethostname()[:200], os.getpid(), ev.utc_now(), _version())


def _version() -> str | None:
    try:
        return metadata.version("abauto")[:100]
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return None


def heartbeat(
    identity: Identity, now: Readiness, interval_s: float, *, stopping: bool = False
) -> ev.HeartbeatSent:
    """The heartbeat of `identity`, ready or not as `now` says (its last if `stopping`)."""
    payload = ev.HeartbeatPayload(
        service=identity.service,
        instance_id=identity.instance_id,
        hostname=identity.hostname,
        pid=identity.pid,
        started_at=identity.started_at,
        version=identity.version,
        interval_seconds=interval_s,
        ready=now.ready,
        checks=now.checks,
        unavailable={name: why[:300] for name, why in now.unavailable.items()},
        refused={name: why[:300] for name, why in now.refused.items()},
        stopping=stopping,
    )
    return ev.HeartbeatSent.create(payload, producer=identity.service)


async def send_heartbeats(
    identity: Identity,
    interval_s: float,
    publisher: Publisher,
    readiness: Callable[[], Awaitable[Readiness]],
    stop: asyncio.Event,
) -> None:
    """Publish a heartbeat now and every `interval_s` seconds until `stop` is set."""
    failing = False
    while not stop.is_set():
        try:
            event = heartbeat(identity, await readiness(), interval_s)
            await asyncio.wait_for(publisher.publish(event), interval_s)
        except Exception as error:
            if not is_transient(error):
                raise
            if not failing:
                logger.warning(
                    "heartbeats are not getting through, Kafka is away: %r",
                    error,
                    extra={"event": "heartbeat.held"},
                )
            failing = True
        else:
            if failing:
                logger.info(
                    "heartbeats are getting through again", extra={"event": "heartbeat.resumed"}
                )
            failing = False
        with contextlib.suppress(TimeoutError):  # the interval, cut short by a stop
            await asyncio.wait_for(stop.wait(), interval_s)
    await _last(identity, interval_s, publisher, readiness)


async def _last(
    identity: Identity,
    interval_s: float,
    publisher: Publisher,
    readiness: Callable[[], Awaitable[Readiness]],
) -> None:
    """Say the process is stopping, so that it shows as stopped rather than going stale;
    not if Kafka is away (it then goes stale, as a killed one does)."""
    try:
        event = heartbeat(identity, await readiness(), interval_s, stopping=True)
        await asyncio.wait_for(publisher.publish(event), LAST_HEARTBEAT_S)
    except Exception as error:
        if not is_transient(error):
            raise
        logger.info(
            "the last heartbeat was not sent: %r", error, extra={"event": "heartbeat.last_not_sent"}
        )
