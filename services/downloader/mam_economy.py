"""MyAnonamouse's ratio economy, as pure decisions: which releases the ratio guard lets
through, and whether to spend a freeleech wedge on a release before fetching it.

A wedge makes one torrent freeleech for us. It is worth spending only on a release that
would cost ratio (not VIP, not already free) and is big enough to matter, and only a few
times a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from services.downloader.torznab import Release

MB = 1024 * 1024


def costs_no_ratio(release: Release) -> bool:
    """Whether downloading the release leaves our ratio alone (freeleech, VIP, personal
    freeleech)."""
    return release.download_volume_factor == 0 or release.vip or release.freeleech


def ratio_guarded(releases: list[Release], guard: bool) -> list[Release]:
    """The releases the ratio guard lets through: all of them when it is off."""
    return [r for r in releases if costs_no_ratio(r)] if guard else releases


@dataclass(frozen=True)
class WedgePolicy:
    """When to spend a wedge: above `above_mb`, at most `per_day` a (UTC) day; 0 = never."""

    above_mb: float = 0.0
    per_day: int = 0


@dataclass(frozen=True)
class WedgeDecision:
    """Whether to spend a wedge on a release, and why (for the log line)."""

    spend: bool
    reason: str


@dataclass
class WedgeLedger:
    """Wedges spent per UTC day (in memory: a restart forgets today's count)."""

    spent: dict[date, int] = field(default_factory=dict)

    def today(self, day: date) -> int:
        """How many were spent on `day`."""
        return self.spent.get(day, 0)

    def note(self, day: date) -> None:
        """One more wedge spent on `day` (older days are forgotten)."""
        self.spent = {day: self.today(day) + 1}


def wedge_decision(release: Release, policy: WedgePolicy, spent_today: int) -> WedgeDecision:
    """Whether to spend a wedge on `release` before fetching it."""
    if policy.per_day <= 0:
        return WedgeDecision(False, "wedges are off")
    if costs_no_ratio(release):
        return WedgeDecision(False, "already free (freeleech or VIP)")
    if release.size_bytes is None:
        return WedgeDecision(False, "size unknown")
    if release.size_bytes <= policy.above_mb * MB:
        return WedgeDecision(False, f"not above {policy.above_mb:g} MB")
    if spent_today >= policy.per_day:
        return WedgeDecision(False, f"today's {policy.per_day} wedges are spent")
    return WedgeDecision(True, f"above {policy.above_mb:g} MB and not free")
