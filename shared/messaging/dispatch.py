"""Which handler acts on which event: one table per service, from event class to handler.

    handler = per_event(dispatch({ev.DownloadCompleted: filing.on_completed}))

A service reads whole topics, so events it does not act on (a "download queued" on the
importer's topic) are skipped; the table is the one place that says what a service does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from shared.events import Event
from shared.messaging.consumer import Delivery, Handler

EventHandler = Callable[[Any, Delivery], Awaitable[None]]
"""A handler of one event class (its first argument is that class)."""


def dispatch(table: Mapping[type[Event[Any]], EventHandler]) -> Handler:
    """A handler that passes each event to the handler its class is registered with."""

    async def handle(event: Event[Any], delivery: Delivery) -> None:
        handler = table.get(type(event))
        if handler is not None:
            await handler(event, delivery)

    return handle
