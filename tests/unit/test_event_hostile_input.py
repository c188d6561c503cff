"""Whatever bytes arrive on a topic, decoding them ends in an event or an
`EventDecodeError` (which the consumer dead-letters): never in another exception that
would stop the consumer and make it read the same message again after its restart."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops.event_examples import example_event
from shared import events


def _document(cls: type[events.Event[Any]]) -> dict[str, Any]:
    return json.loads(example_event(cls).to_json())  # type: ignore[no-any-return]


def _decode(document: dict[str, Any] | bytes) -> events.Event[Any]:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return events.parse_event(raw)


def test_a_date_that_overflows_once_converted_to_utc_is_a_decode_error() -> None:
    document = {**_document(events.BookRequested), "occurred_at": "9999-12-31T23:00:00-05:00"}
    with pytest.raises(events.EventDecodeError, match="out of range"):
        _decode(document)


def test_a_message_too_large_for_a_dead_letter_is_refused_before_parsing() -> None:
    document = _document(events.DownloadCompleted)
    document["payload"]["content_path"] = "/downloads/" + "x" * 900_000
    with pytest.raises(events.EventTooLargeError):
        _decode(document)


def test_a_valid_looking_path_longer_than_linux_allows_is_refused() -> None:
    document = _document(events.DownloadCompleted)
    document["payload"]["content_path"] = "/downloads/" + "x" * 5000
    with pytest.raises(events.EventDecodeError, match="content_path"):
        _decode(document)


@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (events.BookDiscovered, "duration_minutes", 10**30),
        (events.DownloadQueued, "size_bytes", 2**63),
        (
            events.DownloadFailed,
            "retry",
            {"retry_count": 2**31, "max_retries": 3, "will_retry": False},
        ),
        (events.FailureRecorded, "details", {"count": 10**30}),
        (events.TaskFinished, "details", {"deep": [[[[[[[[[[1]]]]]]]]]]}),
        (events.TaskFinished, "items_processed", 2**40),
    ],
)
def test_numbers_beyond_what_the_record_can_hold_are_refused(
    cls: type[events.Event[Any]], field: str, value: object
) -> None:
    document = _document(cls)
    document["payload"][field] = value
    with pytest.raises(events.EventDecodeError, match=field):
        _decode(document)


def test_an_event_too_large_to_send_is_refused_by_its_producer() -> None:
    event = example_event(events.TaskFinished)
    big = event.payload.model_copy(update={"log_output": "x" * 65_000})
    bloated = event.model_copy(update={"payload": big})
    assert len(bloated.to_json()) < events.MAX_EVENT_BYTES
    huge = event.model_copy(
        update={
            "payload": big.model_copy(update={"details": {str(n): "y" * 60_000 for n in range(10)}})
        }
    )
    with pytest.raises(events.EventTooLargeError):
        huge.to_json()


def test_a_long_author_and_title_still_give_a_key_the_record_can_store() -> None:
    long_key = events.book_key(title="t" * 500, author="a" * 500, asin=None)
    other = events.book_key(title="t" * 499 + "u", author="a" * 500, asin=None)
    assert len(long_key) <= events.MAX_KEY_LENGTH
    assert long_key != other
    ref = events.BookRef(title="t" * 500, author="a" * 500)
    request = events.BookRequested.create(events.BookRequestedPayload(book=ref), producer="test")
    assert events.parse_event(request.to_json()) == request


def test_two_versions_of_one_event_type_can_be_read_side_by_side() -> None:
    """A version 2 is one new class; version 1 keeps decoding (no discriminator clash)."""
    from typing import Literal

    class BookRequestedV2(events.Event[events.BookRequestedPayload]):
        topic = events.BookRequested.topic
        event_type: Literal["wanted.book_requested"] = "wanted.book_requested"
        schema_version: Literal[2] = 2

    try:
        decoder = events.decoder_for((*events.EVENT_TYPES, BookRequestedV2))
        v1 = example_event(events.BookRequested)
        v2 = BookRequestedV2.create(v1.payload, producer="a newer producer")
        assert type(decoder.validate_json(v1.to_json())) is events.BookRequested
        assert type(decoder.validate_json(v2.to_json())) is BookRequestedV2
    finally:
        events._PENDING.remove(BookRequestedV2)


_TEMPLATES = [_document(cls) for cls in events.EVENT_TYPES]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    template=st.sampled_from(_TEMPLATES),
    path=st.lists(st.text(max_size=12), min_size=1, max_size=3),
    value=_JSON,
)
def test_any_mutation_of_a_valid_event_decodes_or_is_a_decode_error(
    template: dict[str, Any], path: list[str], value: object
) -> None:
    document = json.loads(json.dumps(template))
    target = document
    for step in path[:-1]:
        nested = target.get(step) if isinstance(target, dict) else None
        if not isinstance(nested, dict):
            break
        target = nested
    target[path[-1]] = value
    with contextlib.suppress(events.EventDecodeError):
        _decode(document)


@settings(max_examples=300)
@given(raw=st.binary(max_size=300))
def test_any_bytes_decode_or_are_a_decode_error(raw: bytes) -> None:
    with contextlib.suppress(events.EventDecodeError):
        events.parse_event(raw)
