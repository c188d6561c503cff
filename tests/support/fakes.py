"""In-memory fakes shared by the workflow tests (cosmicpython's handler-test style)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared import events as ev


@dataclass
class FakePublisher:
    """The publisher fake: keeps what was published, in order."""

    events: list[ev.Event[Any]] = field(default_factory=list)

    async def publish(self, event: ev.Event[Any], /) -> object:
        """Keep one event."""
        self.events.append(event)
        return None

    async def publish_many(self, events: Iterable[ev.Event[Any]], /) -> object:
        """Keep several events."""
        self.events.extend(events)
        return None

    def of(self, kind: type[ev.Event[Any]]) -> list[Any]:
        """The events of one class."""
        return [e for e in self.events if isinstance(e, kind)]
