"""Entity state and the merge rules that make the recorder order-insensitive.

A row is built from facts that may arrive in any order, any number of times. Every
column therefore belongs to one of:

- a *group* (a last-writer-wins register): all its columns are set together by the event
  with the highest version `(authority, occurred_at, event_id)`. Authority lets a fact
  beat a placeholder whatever their times: a download event that arrives before the gap
  it belongs to creates the gap with a STUB reason that the real one replaces;
- a *min* or *max* merge (first/last attempt dates, retry counts);
- a *counter*, incremented once per event (exactly once: duplicates never get here);
- a *derived* column, recomputed from the row's merged state alone (see `derive`).

Each rule is commutative, associative and idempotent per event, so the final state is a
function of the set of events alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum, StrEnum
from functools import cache
from typing import Any
from uuid import UUID


class Kind(StrEnum):
    """The entities the recorder maintains, each with its natural key."""

    BOOK = "book"  # abs_id
    SERIES = "series"  # name
    AUTHOR = "author"  # name
    MISSING = "missing"  # book key
    DOWNLOAD = "download"  # book key
    TASK = "task"  # run id
    FAILURE = "failure"  # task name | item key | error code
    BLOCKED = "blocked"  # book key, newline, release key
    INSTANCE = "instance"  # a service process: <host>:<pid>


class Authority(IntEnum):
    """How much a value is worth, whatever its time: facts beat placeholders."""

    STUB = 0
    FACT = 1


Version = tuple[int, int, str]
"""(authority, occurred_at in microseconds since the epoch, event id prefix): compared as a
tuple."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def version(authority: Authority, occurred_at: datetime, event_id: object) -> Version:
    """The version of a value written by an event (48 bits of its id break ties between
    events of the same microsecond)."""
    eid = event_id.hex if isinstance(event_id, UUID) else str(event_id)
    return (int(authority), (occurred_at - EPOCH) // MICROSECOND, eid[:12])


@dataclass(frozen=True, slots=True)
class Stamps:
    """An event's versions, computed once: as a fact and as a placeholder."""

    when: datetime
    fact: Version
    stub: Version

    @classmethod
    def of(cls, occurred_at: datetime, event_id: object) -> Stamps:
        """The stamps of the event that occurred at `occurred_at` with id `event_id`."""
        fact = version(Authority.FACT, occurred_at, event_id)
        return cls(occurred_at, fact, (int(Authority.STUB), fact[1], fact[2]))

    def by(self, authority: Authority) -> Version:
        """The version at `authority`."""
        return self.fact if authority is Authority.FACT else self.stub


class GroupShapeError(ValueError):
    """A rule set some but not all columns of a group: that would depend on order."""


@dataclass
class Entity:
    """One row being merged: its columns, its group versions, references to resolve."""

    kind: Kind
    key: str
    columns: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Version] = field(default_factory=dict)  # tuples, even when loaded
    references: dict[str, str | None] = field(default_factory=dict)
    changed: bool = False
    is_new: bool = True

    def handed_over(self) -> Entity:
        """A copy for the next batch: same state, which the previous batch writes."""
        return Entity(
            self.kind,
            self.key,
            dict(self.columns),
            dict(self.versions),
            dict(self.references),
            changed=False,
            is_new=False,
        )

    def wants(self, group: str, at: Version) -> bool:
        """Whether a value at `at` would win `group` (to skip building one that cannot)."""
        current = self.versions.get(group)
        return current is None or current < at

    def assign(self, group: str, at: Version, fields: tuple[str, ...], **values: Any) -> bool:
        """Set every column of `group` if `at` is newer than what set it; True if it did."""
        if values.keys() != _shape(fields):
            raise GroupShapeError(f"{self.kind}.{group} needs {fields}, got {sorted(values)}")
        current = self.versions.get(group)
        if current is not None and current >= at:
            return False
        self.versions[group] = at
        # Changed even when the values are the same: the newer version must be stored, or
        # an older event arriving later would win against the stale one.
        self.changed = True
        self.columns.update(values)
        return True

    def refer(self, group: str, at: Version, name: str, key: str | None) -> None:
        """A reference to another entity by natural key, as a last-writer-wins group."""
        current = self.versions.get(group)
        if current is not None and current >= at:
            return
        self.versions[group] = at
        self.references[name] = key
        self.changed = True

    def assign_entry(self, column: str, at: Version, name: str, value: Any) -> None:
        """Set one key of a JSON object column; last writer wins, key by key."""
        group = f"{column}:{name}"
        current = self.versions.get(group)
        if current is not None and current >= at:
            return
        self.versions[group] = at
        self.changed = True
        self.columns[column] = {**(self.columns.get(column) or {}), name: value}

    def lower_to(self, name: str, value: Any) -> None:
        """Keep the smallest value ever seen (a min-merge)."""
        if value is not None and (self.columns.get(name) is None or value < self.columns[name]):
            self._set(name, value)

    def raise_to(self, name: str, value: Any) -> None:
        """Keep the largest value ever seen (a max-merge)."""
        if value is not None and (self.columns.get(name) is None or value > self.columns[name]):
            self._set(name, value)

    def count(self, name: str) -> None:
        """Add one for this event (each event reaches here exactly once)."""
        self._set(name, (self.columns.get(name) or 0) + 1)

    def derive(self, name: str, value: Any) -> None:
        """Set a column the caller computed from this row's merged columns and versions
        only (never from the event at hand): it is then as order-insensitive as they are."""
        self._set(name, value)

    def ensure(self, **defaults: Any) -> None:
        """Give columns a value only where they have none yet (creation defaults)."""
        for name, value in defaults.items():
            if self.columns.get(name) is None:
                self._set(name, value)

    def _set(self, name: str, value: Any) -> None:
        if self.columns.get(name, _UNSET) != value:
            self.columns[name] = value
            self.changed = True


_UNSET = object()


@cache
def _shape(fields: tuple[str, ...]) -> frozenset[str]:
    return frozenset(fields)
