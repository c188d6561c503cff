"""Seeing qBittorrent's paths from the importer's container: prefix mappings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.importer.path_mapping import PathMapping, map_path, parse_mappings

MAPPINGS = parse_mappings("/data/dl=/mnt/dl; /data/dl/books=/books;/data/dl2=/other")


@pytest.mark.parametrize(
    ("remote", "local"),
    [
        ("/data/dl/x/y.mp3", "/mnt/dl/x/y.mp3"),
        ("/data/dl", "/mnt/dl"),
        ("/data/dl/", "/mnt/dl"),
        ("/data/dl/books/a", "/books/a"),  # the longest prefix wins, whatever the order
        ("/data/dl/books2/a", "/mnt/dl/books2/a"),  # whole components only
        ("/data/dl2/a", "/other/a"),
        ("/data//dl/./x", "/mnt/dl/x"),
        ("/data/dl3/a", "/data/dl3/a"),  # nothing matches: unchanged
        ("/elsewhere/a b/c", "/elsewhere/a b/c"),
        ("relative/path", "relative/path"),
    ],
)
def test_the_longest_whole_component_prefix_is_replaced(remote: str, local: str) -> None:
    assert map_path(remote, MAPPINGS) == local


def test_the_order_of_the_mappings_does_not_matter() -> None:
    assert map_path("/data/dl/books/a", list(reversed(MAPPINGS))) == "/books/a"


def test_a_path_climbing_out_of_a_prefix_is_not_mapped_by_it() -> None:
    assert map_path("/data/dl/../secret/x", MAPPINGS) == "/data/dl/../secret/x"


def test_without_mappings_paths_are_unchanged() -> None:
    assert map_path("/downloads/Book", []) == "/downloads/Book"


def test_the_root_can_be_mapped() -> None:
    assert map_path("/downloads/Book", parse_mappings("/=/host")) == "/host/downloads/Book"


def test_mappings_written_with_trailing_slashes_still_match() -> None:
    mappings = [PathMapping("/downloads/", "/mnt/media/downloads/")]
    assert map_path("/downloads/Book/a.m4b", mappings) == "/mnt/media/downloads/Book/a.m4b"


def test_settings_text_parses_into_mappings() -> None:
    assert parse_mappings(" /downloads = /mnt/media/downloads ;\n/other=/x/;;") == [
        PathMapping("/downloads", "/mnt/media/downloads"),
        PathMapping("/other", "/x"),
    ]
    assert parse_mappings("") == []
    assert parse_mappings("  ; ") == []


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("/only-one-side", "remote=local"),
        ("/a=/b=/c", "remote=local"),
        ("=/b", "absolute"),
        ("/a=", "absolute"),
        ("downloads=/mnt", "absolute"),
        ("/a=../b", "absolute"),
        ("/a/../b=/c", "plain path"),
        ("/a=/b\x00", "plain path"),
        ("/a=/b;/a/=/c", "mapped twice"),
    ],
)
def test_malformed_settings_are_refused(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_mappings(text)


def test_the_same_mapping_twice_is_not_a_conflict() -> None:
    assert parse_mappings("/a=/b;/a/=/b/") == [PathMapping("/a", "/b")] * 2


_COMPONENT = st.text(
    st.characters(exclude_characters="/\x00", exclude_categories=["Cs"]), min_size=1
).filter(lambda c: c not in (".", ".."))


@given(rest=st.lists(_COMPONENT, max_size=4))
def test_what_follows_the_prefix_is_kept_as_it_was(rest: list[str]) -> None:
    remote = "/".join(["/data/dl2", *rest])
    assert map_path(remote, MAPPINGS) == "/".join(["/other", *rest])
