"""Telling book folders apart as a reader would, and reading the import marker."""

from __future__ import annotations

import unicodedata
from pathlib import Path, PurePosixPath

import pytest

from services.importer.ownership import Claim, claim_text, folder_key, parse_claim
from services.importer.placement import UnsafePathError
from services.importer.sources import confine, parse_roots


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Vol. 1 - Dune", "Vol. 01 - Dune"),
        ("Vol. 1 - Dune", "vol. 1 - DUNE"),
        ("Vol. 1 - Dune", "Vol. 1  -  Dune"),
        ("Café", unicodedata.normalize("NFD", "Café")),
        ("Book 10 - X", "Book 010 - X"),
        ("\uff36\uff4f\uff4c. 1", "Vol. 1"),  # full-width letters,
    ],
)
def test_spellings_of_one_folder_share_a_key(one: str, other: str) -> None:
    assert folder_key(one) == folder_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Vol. 1 - Dune", "Vol. 10 - Dune"),
        ("Vol. 1.5 - Dune", "Vol. 1.05 - Dune"),
        ("Vol. 1 - Dune", "Vol. 2 - Dune"),
        ("Dune", "Dune Messiah"),
    ],
)
def test_different_folders_keep_different_keys(one: str, other: str) -> None:
    assert folder_key(one) != folder_key(other)


def test_a_claim_survives_its_marker_text() -> None:
    claim = Claim("book:x", "AB" * 20, (PurePosixPath("A"), PurePosixPath("A/B")))
    assert parse_claim(claim_text(claim)) == claim
    assert claim.same_download(Claim("book:x", "ab" * 20))
    assert not claim.same_download(Claim("book:x", "cd" * 20))
    assert not claim.same_download(Claim("book:y", "ab" * 20))


@pytest.mark.parametrize("text", ["", "{", "[]", '{"book_key": 1, "info_hash": "x"}'])
def test_a_marker_that_is_not_ours_claims_nothing(text: str) -> None:
    assert parse_claim(text) is None


def test_download_roots_parse_like_path_mappings() -> None:
    assert parse_roots("/a; /b\n/a;") == (Path("/a"), Path("/b"))
    with pytest.raises(ValueError, match="plain absolute"):
        parse_roots("/a/../etc")


def test_a_source_is_confined_after_resolving(tmp_path: Path) -> None:
    root, outside = tmp_path / "downloads", tmp_path / "outside"
    (root / "release").mkdir(parents=True)
    outside.mkdir()
    assert confine(root / "release", [root]) == (root / "release").resolve()
    assert confine(root, [root]) == root.resolve()  # a single-file torrent's save path
    (root / "sneaky").symlink_to(outside)
    for path in (root / "sneaky", root / "release" / ".." / ".." / "outside"):
        with pytest.raises(UnsafePathError) as refused:
            confine(path, [root])
        assert refused.value.code == "OUTSIDE_DOWNLOADS"
