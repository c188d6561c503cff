"""Which polled events the recorder takes in at all: pure checks, before anything is claimed.

- An event dated further in the future than the clock skew allows is refused: under
  last-writer-wins on `occurred_at` it would otherwise beat every real event for ever
  (a "book removed" dated 9999 would keep an owned book archived through every rescan).
- Each event gets a content fingerprint, kept with its id once applied: a second event
  with the same id is an exact redelivery (a silent no-op) only if its content is the
  same; otherwise it is a conflicting duplicate and refused, whichever batch it is in.
  The copy that counts is the one applied before, else the first delivered.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.events import Event
from shared.messaging import Received, Rejected

FINGERPRINT_BYTES = 16


class RefusedEventError(ValueError):
    """An event the recorder will not apply, whatever the database says (dead-lettered)."""


class ClockSkewError(RefusedEventError):
    """The event claims to have happened later than the recorder's clock allows."""


class ConflictingDuplicateError(RefusedEventError):
    """Another event with this id, but different content, was (or is being) applied."""


@dataclass(frozen=True, slots=True)
class Admitted:
    """An event let in, with its content fingerprint."""

    received: Received
    fingerprint: bytes

    @property
    def event(self) -> Event[Any]:
        """The event itself."""
        return self.received.event


def fingerprint(received: Received) -> bytes:
    """A digest of everything the event says (secrets included): of the bytes it came in,
    which producers write with `Event.to_json`, or of that encoding when it did not come
    from Kafka. The bytes are at hand, and re-encoding them would cost more than the rest
    of admission together."""
    raw = getattr(received.record, "value", None)
    content = raw if isinstance(raw, bytes) else received.event.to_json()
    return hashlib.blake2b(content, digest_size=FINGERPRINT_BYTES).digest()


def skew_error(event: Event[Any], now: datetime, max_skew: timedelta) -> ClockSkewError | None:
    """Why the event is too far in the future to be believed, if it is."""
    latest = now + max_skew
    if event.occurred_at <= latest:
        return None
    return ClockSkewError(
        f"occurred_at {event.occurred_at.isoformat()} is later than the recorder's clock "
        f"({now.isoformat()}) plus the allowed skew of {max_skew.total_seconds():g} s "
        "(ABAUTO_MAX_CLOCK_SKEW_SECONDS): refused, it would win over every real event"
    )


def conflict_error(event_id: uuid.UUID) -> ConflictingDuplicateError:
    """The error for a second, different event under an id already taken."""
    return ConflictingDuplicateError(
        f"conflicting duplicate event id {event_id}: an event with this id but different "
        "content was already recorded (or comes earlier in the batch); refused"
    )


def admit(
    batch: Sequence[Received], now: datetime, max_skew: timedelta
) -> tuple[list[Admitted], list[Rejected]]:
    """Split a batch into the events to go on with and those refused outright. Identical
    copies are dropped silently; copies of an id with different content all go on, in
    delivery order, to be judged (`conflicting`) once the record's copy is known."""
    admitted: dict[tuple[uuid.UUID, bytes], Admitted] = {}
    rejected: list[Rejected] = []
    for received in batch:
        event = received.event
        skewed = skew_error(event, now, max_skew)
        if skewed is not None:
            rejected.append(Rejected(received, skewed))
            continue
        try:
            digest = fingerprint(received)
        except (ValueError, TypeError) as error:  # a value the contract cannot encode
            rejected.append(Rejected(received, RefusedEventError(f"unencodable: {error}")))
            continue
        admitted.setdefault((event.event_id, digest), Admitted(received, digest))
    return list(admitted.values()), rejected


def first_copies(batch: Sequence[Admitted]) -> list[Admitted]:
    """The first copy of each event id, in delivery order: the ones to claim."""
    first: dict[uuid.UUID, Admitted] = {}
    for admitted in batch:
        first.setdefault(admitted.event.event_id, admitted)
    return list(first.values())


def conflicting(
    batch: Sequence[Admitted], recorded: Mapping[uuid.UUID, bytes | None]
) -> list[Admitted]:
    """The copies whose content differs from the copy that counts for their id: the one
    `recorded` before (its fingerprint; None if unknown), else the first in the batch."""
    counts = {event_id: digest for event_id, digest in recorded.items() if digest is not None}
    return [
        admitted
        for admitted in batch
        if counts.setdefault(admitted.event.event_id, admitted.fingerprint) != admitted.fingerprint
    ]
