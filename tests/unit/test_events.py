"""The event contracts: round trips, clear rejections, stable keys, docs that cannot drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ops import event_docs
from ops.event_examples import example_event, example_events
from shared import events, topics

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("cls", events.EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_every_event_type_round_trips_through_json(cls: type[events.Event[Any]]) -> None:
    event = example_event(cls)
    decoded = events.parse_event(event.to_json())
    assert type(decoded) is cls
    assert decoded == event
    assert decoded.to_json() == event.to_json()


@pytest.mark.parametrize("cls", events.EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_every_event_matches_its_published_json_schema(cls: type[events.Event[Any]]) -> None:
    event = example_event(cls)
    name = f"{event.event_type}.v{event.schema_version}.json"
    schema = json.loads((ROOT / "docs" / "schemas" / name).read_text())
    jsonschema.validate(json.loads(event.to_json()), schema)


def test_the_required_event_types_exist_on_the_right_topics() -> None:
    by_type = {cls.model_fields["event_type"].default: cls.topic for cls in events.EVENT_TYPES}
    assert by_type["wanted.book_requested"] == topics.WANTED
    assert by_type["wanted.missing_book_identified"] == topics.WANTED
    assert {t for t, topic in by_type.items() if topic == topics.DOWNLOADS} == {
        "download.queued",
        "download.progressed",
        "download.completed",
        "download.failed",
        "download.abandoned",
        "download.release_blocklisted",
        "download.blocklist_cleared",
    }
    assert by_type.pop("command.discovery_requested") == topics.COMMANDS
    assert by_type.pop("command.correction_apply_requested") == topics.COMMANDS
    assert by_type.pop("command.correction_revert_requested") == topics.COMMANDS
    assert all(topic in topics.DOMAIN_TOPICS for topic in by_type.values())


def _with(event: events.Event[Any], **changes: object) -> bytes:
    document = json.loads(event.to_json())
    document.update(changes)
    return json.dumps(document).encode()


def test_an_unknown_schema_version_is_rejected_clearly() -> None:
    raw = _with(example_event(events.DownloadCompleted), schema_version=2)
    with pytest.raises(events.UnsupportedSchemaVersionError) as caught:
        events.parse_event(raw)
    assert str(caught.value) == (
        "download.completed schema_version 2 is not supported (supported: [1])"
    )


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"\xff\xfe", events.EventDecodeError, "not JSON"),
        (b"[1, 2]", events.EventDecodeError, "must be a JSON object"),
        (b'{"payload": {}}', events.EventDecodeError, "missing or non-string 'event_type'"),
        (b'{"event_type": "download.teleported"}', events.UnknownEventTypeError, "unknown"),
    ],
)
def test_malformed_messages_say_what_is_wrong(
    raw: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        events.parse_event(raw)


def test_invalid_payload_fields_are_named_in_the_error() -> None:
    event = example_event(events.MissingBookIdentified)
    document = json.loads(event.to_json())
    document["payload"]["priority"] = 7
    with pytest.raises(events.EventDecodeError, match="priority"):
        events.parse_event(json.dumps(document).encode())


def test_a_field_added_by_a_newer_producer_is_ignored_not_refused() -> None:
    """The tolerant reader: an additive field must not break consumers not yet upgraded."""
    event = example_event(events.BookRequested)
    document = json.loads(event.to_json())
    document["payload"]["format_wanted"] = "m4b"
    document["trace_parent"] = "00-abc"
    parsed = events.parse_event(json.dumps(document).encode())
    assert parsed == event


def test_occurred_at_must_carry_a_timezone_and_is_stored_in_utc() -> None:
    event = example_event(events.TaskStarted)
    with pytest.raises(events.EventDecodeError, match="occurred_at"):
        events.parse_event(_with(event, occurred_at="2026-11-23T20:15:00"))
    parsed = events.parse_event(_with(event, occurred_at="2026-11-23T21:15:00+01:00"))
    assert parsed.occurred_at == event.occurred_at
    assert parsed.occurred_at.utcoffset() is not None
    assert not parsed.occurred_at.utcoffset()


def test_one_books_events_share_one_key_across_the_pipeline() -> None:
    book = events.BookRef(title="The Well of Ascension", author="Brandon Sanderson")
    same_book = events.BookRef(title="the well of  ascension!", author="BRANDON SANDERSON")
    assert book.key == same_book.key == "book:brandon sanderson/the well of ascension"
    assert events.BookRef(title="x", asin=" b002uzmlxm ").key == "asin:B002UZMLXM"
    keys = {
        e.key
        for e in example_events()
        if isinstance(getattr(e.payload, "book", None), events.BookRef)
    }
    assert keys == {"asin:B002UZMLXM"}


def test_secret_urls_are_masked_in_reprs_but_travel_in_full() -> None:
    event = example_event(events.DownloadQueued)
    assert "apikey=REDACTED" not in repr(event)
    assert "apikey=REDACTED" not in str(event.payload)
    assert b"apikey=REDACTED" in event.to_json()


def test_the_events_reference_is_current() -> None:
    committed = (ROOT / "docs" / "events.md").read_text()
    assert committed == event_docs.render(), "run `abauto events docs` and commit the result"


def test_the_committed_json_schemas_are_current() -> None:
    committed = {path.name for path in (ROOT / "docs" / "schemas").glob("*.json")}
    assert committed == set(events.json_schemas())
    for name, schema in events.json_schemas().items():
        on_disk = json.loads((ROOT / "docs" / "schemas" / name).read_text())
        assert on_disk == schema, f"{name} is stale: run `abauto events schema docs/schemas`"
