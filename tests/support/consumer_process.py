"""A real consumer process for crash and shutdown tests.

    python -m tests.support.consumer_process GROUP OUTPUT_FILE {hang|ack} PORT [MARKER]

It consumes the wanted topic through `run_service` + `ConsumerLoop` and appends the
event id of each event it receives to OUTPUT_FILE. In `hang` mode the handler never
returns for an event whose title contains MARKER, so its offset is never committed:
SIGKILL then simulates a crash mid-message. PORT 0 picks a free health port.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from shared import topics
from shared.events import Event
from shared.messaging import ConsumerLoop, Delivery, per_event
from shared.runtime import ServiceContext, run_service
from shared.settings import ServiceSettings


def _append(path: Path, line: str) -> None:
    with path.open("a") as sink:
        sink.write(line)


def main() -> None:
    """Parse arguments and run the consumer until SIGTERM."""
    group, output, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    os.environ["ABAUTO_HEALTH_PORT"] = sys.argv[4]
    marker = sys.argv[5] if len(sys.argv) > 5 else ""

    async def handle(event: Event[Any], delivery: Delivery) -> None:
        line = f"{event.event_id} {delivery.partition} {delivery.offset}\n"
        await asyncio.to_thread(_append, output, line)
        if mode == "hang" and marker in event.payload.book.title:
            await asyncio.Event().wait()

    async def service(context: ServiceContext) -> None:
        loop = ConsumerLoop(
            settings=context.settings,
            group_id=group,
            topics=(topics.WANTED,),
            handler=per_event(handle),
            producer=context.producer,
        )
        await loop.run(context.stop)

    asyncio.run(run_service("test-consumer", ServiceSettings(), service))


if __name__ == "__main__":
    main()
