"""The recorder process: consumer group `recorder` on every domain topic, writer role.

abauto run recorder        (or: python -m services.recorder)
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.recorder.handler import BatchRecorder
from services.recorder.retention import run_periodically
from services.recorder.settings import RecorderSettings
from shared import topics
from shared.messaging import ConsumerLoop
from shared.runtime import ServiceContext, run_service, settings_or_exit

GROUP_ID = "recorder"


async def recorder_main(context: ServiceContext) -> None:
    """Consume and record until stopped; clean up on schedule alongside."""
    settings = context.settings
    assert isinstance(settings, RecorderSettings)
    loop = ConsumerLoop(
        settings=settings,
        group_id=GROUP_ID,
        topics=topics.DOMAIN_TOPICS,
        handler=BatchRecorder(
            context.engine, max_clock_skew=timedelta(seconds=settings.max_clock_skew_seconds)
        ),
        producer=context.producer,
        conditions=context.conditions,
        max_batch=settings.recorder_batch_size,
        linger_ms=settings.recorder_linger_ms,
        # Batches overlap: while PostgreSQL writes one, the next is projected on its
        # handed-over state and the one after is already claimed, so each write can
        # start the moment the previous one commits.
        # Safe because writers take turns on the writer generation (see handler.py).
        max_in_flight=settings.recorder_batches_in_flight,
    )
    cleaner = asyncio.create_task(run_periodically(context.engine, settings, context.stop))
    try:
        await loop.run(context.stop)
    finally:
        context.stop.set()
        await cleaner


def main() -> None:
    """Run the recorder until SIGTERM/SIGINT."""
    asyncio.run(
        run_service("recorder", settings_or_exit(RecorderSettings, "recorder"), recorder_main)
    )
