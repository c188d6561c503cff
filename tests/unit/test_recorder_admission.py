"""What the recorder lets in before claiming anything: the clock-skew bound and duplicate
event ids (pure, no database)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from sandbox.histories import Clock, book_history, stamped
from services.recorder.admission import (
    ClockSkewError,
    admit,
    conflicting,
    fingerprint,
    first_copies,
)
from shared import events as ev
from tests.support.recording import received

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=10)


def _identified() -> ev.Event[Any]:
    return book_history(1, Clock())[0]


def _admitted_ids(events: list[ev.Event[Any]]) -> list[Any]:
    admitted, _ = admit(received(events), NOW, SKEW)
    return [a.received.delivery.offset for a in admitted]


def test_an_event_up_to_the_allowed_skew_ahead_is_admitted() -> None:
    at_the_bound = stamped(_identified(), NOW + SKEW)
    assert _admitted_ids([at_the_bound]) == [0]


def test_an_event_dated_beyond_the_allowed_skew_is_refused_and_says_why() -> None:
    forged = stamped(_identified(), datetime(9999, 1, 1, tzinfo=UTC))
    just_over = stamped(_identified(), NOW + SKEW + timedelta(microseconds=1))
    fine = _identified()
    admitted, rejected = admit(received([forged, fine, just_over]), NOW, SKEW)

    assert [a.event.event_id for a in admitted] == [fine.event_id]
    assert [r.received.event.event_id for r in rejected] == [forged.event_id, just_over.event_id]
    assert all(isinstance(r.error, ClockSkewError) for r in rejected)
    assert "allowed skew of 600 s" in str(rejected[0].error)
    assert "9999-01-01" in str(rejected[0].error)


def test_identical_copies_in_a_batch_are_one_event_and_no_rejection() -> None:
    event = _identified()
    admitted, rejected = admit(received([event, event, event]), NOW, SKEW)
    assert [a.received.delivery.offset for a in admitted] == [0]  # the first copy
    assert rejected == []


def _forgery(event: ev.Event[Any]) -> ev.Event[Any]:
    payload = event.payload.model_copy(update={"priority": 9})
    return event.model_copy(update={"payload": payload})  # same event id


def test_different_copies_of_an_id_go_on_to_be_judged_first_copy_first() -> None:
    first = _identified()
    admitted, rejected = admit(received([first, _forgery(first), first]), NOW, SKEW)
    assert [a.received.delivery.offset for a in admitted] == [0, 1]
    assert [a.received.delivery.offset for a in first_copies(admitted)] == [0]
    assert rejected == []


def test_the_first_delivered_copy_counts_when_the_record_has_none() -> None:
    first = _identified()
    admitted, _ = admit(received([first, _forgery(first)]), NOW, SKEW)
    assert [a.received.delivery.offset for a in conflicting(admitted, {})] == [1]


def test_the_recorded_copy_counts_whatever_the_batch_order() -> None:
    original = _identified()
    admitted, _ = admit(received([_forgery(original), original]), NOW, SKEW)
    recorded = {original.event_id: fingerprint(received([original])[0])}
    assert [a.received.delivery.offset for a in conflicting(admitted, recorded)] == [0]


def test_a_copy_recorded_before_fingerprints_were_kept_counts_as_the_same() -> None:
    original = _identified()
    admitted, _ = admit(received([original]), NOW, SKEW)
    assert conflicting(admitted, {original.event_id: None}) == []


def _digest(event: ev.Event[Any], raw: bytes | None = None) -> bytes:
    (delivered,) = received([event])
    return fingerprint(replace(delivered, record=None if raw is None else Record(raw)))


@dataclass(frozen=True)
class Record:
    """The part of a Kafka record the fingerprint reads."""

    value: bytes


def test_the_fingerprint_sees_secrets_and_nothing_but_content() -> None:
    queued = next(e for e in book_history(2, Clock()) if isinstance(e, ev.DownloadQueued))
    assert _digest(queued) == _digest(ev.parse_event(queued.to_json()))
    assert _digest(queued) == _digest(queued, raw=queued.to_json())  # as it came from Kafka
    link = SecretStr("magnet:?xt=urn:btih:other")
    other_link = queued.payload.model_copy(update={"magnet_link": link})
    assert _digest(queued) != _digest(queued.model_copy(update={"payload": other_link}))
