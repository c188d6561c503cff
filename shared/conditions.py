"""What keeps a running service from doing its work, as its readiness probe and its logs
tell it: a dependency that is away (it waits and resumes), or one that refused the
configured credentials (it waits for a new configuration and tries nothing meanwhile).

One `Conditions` per process, shared by its loops and workers. Each condition is logged
once when it starts and once when it clears, never once per retry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class Conditions:
    """The current problems of this process, by dependency name."""

    away: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)

    def set_away(self, dependency: str, reason: str) -> None:
        """`dependency` cannot be reached or is busy: work on it waits."""
        if dependency not in self.away:
            logger.warning(
                "%s is unavailable, waiting for it: %s",
                dependency,
                reason,
                extra={"event": "dependency.unavailable", "dependency": dependency},
            )
        self.away[dependency] = reason

    def set_refused(self, dependency: str, reason: str) -> None:
        """`dependency` refused our credentials: nothing more is tried until reconfigured."""
        if dependency not in self.refused:
            logger.error(
                "%s refused the configured credentials; fix the configuration and restart "
                "this service (no further attempt is made meanwhile): %s",
                dependency,
                reason,
                extra={"event": "dependency.refused", "dependency": dependency},
            )
        self.refused[dependency] = reason

    def clear(self, dependency: str) -> None:
        """`dependency` answers again."""
        if self.away.pop(dependency, None) is not None:
            logger.info(
                "%s is available again",
                dependency,
                extra={"event": "dependency.available", "dependency": dependency},
            )

    @property
    def ready(self) -> bool:
        """Whether nothing keeps this process from working."""
        return not self.away and not self.refused

    def describe(self) -> dict[str, dict[str, str]]:
        """The problems, for `/readyz`."""
        return {"unavailable": dict(self.away), "refused": dict(self.refused)}
