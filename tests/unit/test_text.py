"""One text module with named purposes (issue: "names and numbers as the world writes
them", class 5): three normalisers gave three keys for one series, so a series'
assessment and its failure rows carried different keys."""

from __future__ import annotations

import uuid

import pytest

from services.discovery import series_check
from services.discovery.series_check import OwnedSeriesGroup
from shared import events as ev
from shared.task_runs import TaskRun
from shared.text import key_text, match_text, series_key, title_text
from tests.support.fakes import FakePublisher


@pytest.mark.parametrize(
    "name",
    ["Mistborn (Publication Order)", "The Expanse: Novellas", "Discworld - City Watch",
     "Élan Vital", "Harry Potter & the Philosopher's Stone", "Wheel of Time [Reading Order]"],
)  # fmt: skip
async def test_a_series_has_one_key_for_its_assessment_and_its_failures(name: str) -> None:
    assessed = ev.SeriesAssessedPayload(
        name=name,
        books_owned=1,
        books_missing=1,
        completion_status=ev.CompletionStatus.PARTIAL,
        checked_at=ev.utc_now(),
    )
    publisher = FakePublisher()
    run = TaskRun(uuid.uuid4(), "SERIES", uuid.uuid4())
    await series_check._failed(publisher, run, OwnedSeriesGroup(name), "CATALOGUE_ERROR", "x")
    (failure,) = publisher.of(ev.FailureRecorded)
    assert ev.SeriesAssessed.natural_key(assessed) == failure.payload.item_key == series_key(name)


def test_each_purpose_folds_alike_and_keeps_what_it_needs() -> None:
    assert key_text("Élan: Vital!") == "elan vital"
    assert match_text("Sorcerer's Stone & Co_Ltd") == "sorcerers stone and co ltd"
    assert title_text("Mistborn (Publication Order): rev. ed.") == "mistborn"
    assert title_text("The Armour of Light, 3rd Edition") == "the armor of light"
