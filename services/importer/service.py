"""The importer process: each completed download is filed into the library (hard links
and a metadata.json sidecar), Audiobookshelf scans it, and the new item is reported.

abauto run importer        (or: python -m services.importer)
"""

from __future__ import annotations

import asyncio
import logging

from services.importer.filing import Filing
from services.importer.settings import ImporterSettings
from shared import events as ev
from shared import topics
from shared.clients.audiobookshelf import AudiobookshelfClient
from shared.dependencies import wait_for
from shared.http import PoliteHttp
from shared.messaging import ConsumerLoop, Delivery, dispatch, per_event
from shared.runtime import ServiceContext, run_service, settings_or_exit

logger = logging.getLogger(__name__)

GROUP_ID = "importer"


async def importer_main(context: ServiceContext) -> None:
    """Consume completed downloads and import them until stopped."""
    settings = context.settings
    assert isinstance(settings, ImporterSettings)
    async with PoliteHttp() as http:
        library = AudiobookshelfClient(settings.abs_url, settings.abs_api_key, http)

        async def can_scan() -> object:
            return await library.check_rights(admin=True, explicit=False)

        if not await wait_for(
            "Audiobookshelf", can_scan, stop=context.stop, conditions=context.conditions
        ):
            return  # stopped, or the API key was refused: nothing more is tried
        filing = Filing(settings, library, context.producer)

        async def on_completed(event: ev.DownloadCompleted, delivery: Delivery) -> None:
            await filing.file(event)

        loop = ConsumerLoop(
            settings=settings,
            group_id=GROUP_ID,
            topics=(topics.DOWNLOADS,),
            handler=per_event(dispatch({ev.DownloadCompleted: on_completed})),
            producer=context.producer,
            conditions=context.conditions,
        )
        await loop.run(context.stop)


def main() -> None:
    """Run the importer until SIGTERM/SIGINT."""
    asyncio.run(
        run_service("importer", settings_or_exit(ImporterSettings, "importer"), importer_main)
    )
