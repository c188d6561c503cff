"""The merge rules the recorder's order-insensitivity rests on, without a database."""

from __future__ import annotations

import pytest

from services.recorder.entities import Entity, GroupShapeError, Kind

STATUS = ("download_status",)


def _gap() -> Entity:
    return Entity(Kind.MISSING, "asin:B0TEST")


def test_a_newer_version_with_the_same_value_is_still_a_change_to_store() -> None:
    # Found by the property test: "abandoned" set the gap to "failed", which it already
    # was; its newer version was not stored, and a later-arriving older "progressed" won.
    gap = _gap()
    gap.assign("status", (1, 100, "a"), STATUS, download_status="failed")
    gap.changed = False
    assert gap.assign("status", (1, 200, "b"), STATUS, download_status="failed")
    assert gap.changed
    assert gap.versions["status"] == (1, 200, "b")
    assert not gap.assign("status", (1, 150, "c"), STATUS, download_status="downloading")
    assert gap.columns["download_status"] == "failed"


def test_a_fact_beats_a_placeholder_whatever_their_times() -> None:
    gap = _gap()
    gap.assign("status", (1, 100, "a"), STATUS, download_status="queued")
    assert not gap.assign("status", (0, 999, "b"), STATUS, download_status="identified")
    assert gap.columns["download_status"] == "queued"


def test_equal_times_are_decided_by_event_id_the_same_way_in_any_order() -> None:
    first, second = _gap(), _gap()
    low, high = (1, 100, "aaaa"), (1, 100, "bbbb")
    first.assign("status", low, STATUS, download_status="queued")
    first.assign("status", high, STATUS, download_status="failed")
    second.assign("status", high, STATUS, download_status="failed")
    second.assign("status", low, STATUS, download_status="queued")
    assert first.columns == second.columns == {"download_status": "failed"}


def test_min_max_and_count_merges_do_not_depend_on_order() -> None:
    one, other = _gap(), _gap()
    for entity, values in ((one, (3, 1, 2)), (other, (2, 3, 1))):
        for value in values:
            entity.lower_to("first", value)
            entity.raise_to("last", value)
            entity.count("seen")
    assert one.columns == other.columns == {"first": 1, "last": 3, "seen": 3}


def test_setting_part_of_a_group_is_refused() -> None:
    with pytest.raises(GroupShapeError, match="download_status"):
        _gap().assign("status", (1, 1, "a"), ("download_status", "priority"), priority=1)


def test_json_entries_merge_key_by_key() -> None:
    failure = Entity(Kind.FAILURE, "DOWNLOAD|k|E")
    failure.assign_entry("metadata", (1, 200, "b"), "attempt", 2)
    failure.assign_entry("metadata", (1, 100, "a"), "attempt", 1)
    failure.assign_entry("metadata", (1, 100, "a"), "indexer", "prowlarr")
    assert failure.columns["metadata"] == {"attempt": 2, "indexer": "prowlarr"}
