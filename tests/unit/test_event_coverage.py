"""Adding an event type is one class in `shared/events.py`; these tests then say what else
it needs, so it cannot be half-added."""

from __future__ import annotations

from typing import Any

import pytest

from ops.event_examples import example_event
from services.recorder.projection import RULES
from shared import events as ev
from shared import topics


def _domain_events() -> list[type[ev.Event[Any]]]:
    return [cls for cls in ev.EVENT_TYPES if cls.topic in topics.DOMAIN_TOPICS]


@pytest.mark.parametrize("cls", _domain_events(), ids=lambda cls: cls.__name__)
def test_every_fact_on_a_domain_topic_has_a_recorder_rule(cls: type[ev.Event[Any]]) -> None:
    assert cls in RULES, f"{cls.__name__} is published to a domain topic but never recorded"


def test_commands_are_not_recorded() -> None:
    commands = [cls for cls in ev.EVENT_TYPES if cls.topic == topics.COMMANDS]
    assert commands
    assert not set(commands) & set(RULES)


@pytest.mark.parametrize("cls", ev.EVENT_TYPES, ids=lambda cls: cls.__name__)
def test_every_event_has_an_example_that_round_trips(cls: type[ev.Event[Any]]) -> None:
    example = example_event(cls)
    assert ev.parse_event(example.to_json()) == example
