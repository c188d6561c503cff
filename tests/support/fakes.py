"""In-memory fakes shared by the workflow tests (cosmicpython's handler-test style)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared import events as ev
from shared.task_runs import HeldEvents


@dataclass
class FakePublisher(HeldEvents):
    """The publisher fake: keeps what was published, in order."""

    def of(self, kind: type[ev.Event[Any]]) -> list[Any]:
        """The events of one class."""
        return [e for e in self.events if isinstance(e, kind)]
