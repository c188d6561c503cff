"""Placing downloads into the library: hard links, idempotence, and nothing ever written
outside the library root whatever the torrent's file names say."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path, PurePosixPath

import pytest

from services.importer.layout import book_folder, sanitise
from services.importer.path_mapping import map_path, parse_mappings
from services.importer.placement import (
    PlacementError,
    UnsafePathError,
    execute,
    plan_placement,
)
from services.importer.sidecar import metadata_json, write_sidecar
from shared.events import BookRef

BOOK = BookRef(title="The Glass Orchard", author="Mara Quill", series="Lanterns", series_number="3")
FOLDER = book_folder(BOOK)


@pytest.fixture
def world(tmp_path: Path) -> tuple[Path, Path, Path]:
    download = tmp_path / "downloads" / "release"
    (download / "CD1").mkdir(parents=True)
    (download / "CD1" / "part 1.mp3").write_bytes(b"a" * 1000)
    (download / "cover.jpg").write_bytes(b"jpg")
    (download / "tracker.exe").write_bytes(b"nope")
    library = tmp_path / "library"
    library.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    return download, library, outside


def test_files_are_hard_linked_into_the_book_folder(world: tuple[Path, Path, Path]) -> None:
    download, library, _ = world
    files = ["CD1/part 1.mp3", "cover.jpg", "tracker.exe"]
    placement = plan_placement(download, files, library, FOLDER)
    assert placement.skipped == ("tracker.exe",)
    result = execute(placement, allow_copy=False)
    placed = (
        library / "Mara Quill" / "Lanterns" / "Vol. 3 - The Glass Orchard" / "CD1" / "part 1.mp3"
    )
    assert placed in result.linked
    assert placed.stat().st_ino == (download / "CD1" / "part 1.mp3").stat().st_ino
    assert (download / "CD1" / "part 1.mp3").exists()  # the torrent keeps seeding
    again = execute(plan_placement(download, files, library, FOLDER), allow_copy=False)
    assert placed in again.linked  # importing twice is harmless


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("../../outside/evil.mp3", "PATH_ESCAPE"),
        ("/etc/passwd", "PATH_ESCAPE"),
        ("CD1/../../../outside/x.mp3", "PATH_ESCAPE"),
        ("nul\x00.mp3", "PATH_ESCAPE"),
        ("missing.mp3", "NOT_A_FILE"),
    ],
)
def test_names_that_leave_the_download_are_refused(
    world: tuple[Path, Path, Path], name: str, code: str
) -> None:
    download, library, outside = world
    with pytest.raises(UnsafePathError) as caught:
        plan_placement(download, ["CD1/part 1.mp3", name], library, FOLDER)
    assert caught.value.code == code
    assert list(outside.iterdir()) == []
    assert list(library.iterdir()) == []


def test_a_symlink_out_of_the_download_is_refused(world: tuple[Path, Path, Path]) -> None:
    download, library, outside = world
    secret = outside / "secret.mp3"
    secret.write_bytes(b"private")
    (download / "link.mp3").symlink_to(secret)
    with pytest.raises(UnsafePathError) as caught:
        plan_placement(download, ["link.mp3"], library, FOLDER)
    assert caught.value.code == "SYMLINK_ESCAPE"


def test_a_library_folder_that_is_a_symlink_out_is_refused(world: tuple[Path, Path, Path]) -> None:
    download, library, outside = world
    (library / "Mara Quill").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError) as caught:
        plan_placement(download, ["CD1/part 1.mp3"], library, FOLDER)
    assert caught.value.code == "SYMLINK_ESCAPE"
    assert list(outside.iterdir()) == []


def test_a_download_without_audio_is_refused(world: tuple[Path, Path, Path]) -> None:
    download, library, _ = world
    with pytest.raises(UnsafePathError) as caught:
        plan_placement(download, ["cover.jpg"], library, FOLDER)
    assert caught.value.code == "NO_AUDIO"


def test_across_filesystems_it_copies_only_when_allowed(
    world: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    download, library, _ = world

    def cross_device(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "link", cross_device)
    placement = plan_placement(download, ["CD1/part 1.mp3"], library, FOLDER)
    with pytest.raises(PlacementError) as caught:
        execute(placement, allow_copy=False)
    assert caught.value.code == "HARDLINK_IMPOSSIBLE"
    result = execute(placement, allow_copy=True)
    assert result.copied
    assert result.copied[0].read_bytes() == b"a" * 1000


def test_a_different_file_already_in_place_is_not_overwritten(
    world: tuple[Path, Path, Path],
) -> None:
    download, library, _ = world
    placement = plan_placement(download, ["CD1/part 1.mp3"], library, FOLDER)
    target = placement.moves[0].target
    target.parent.mkdir(parents=True)
    target.write_bytes(b"someone else's")
    with pytest.raises(PlacementError) as caught:
        execute(placement, allow_copy=False)
    assert caught.value.code == "DESTINATION_EXISTS"
    assert target.read_bytes() == b"someone else's"


def test_layout_follows_what_audiobookshelf_parses() -> None:
    assert PurePosixPath("Mara Quill/Lanterns/Vol. 3 - The Glass Orchard") == FOLDER
    assert book_folder(BookRef(title="Solo", author="A")) == PurePosixPath("A/Solo")
    assert book_folder(BookRef(title="T", series="S")) == PurePosixPath("Unknown Author/S/T")
    half = BookRef(title="Novella", author="A", series="S", series_number="0.5")
    assert book_folder(half).name == "Vol. 0.5 - Novella"


@pytest.mark.parametrize(
    ("raw", "safe"),
    [("AC/DC: Live?", "AC DC Live"), ("..", "Unknown"), ("name. ", "name"), ("a\tb\x07c", "a b c")],
)
def test_names_are_sanitised(raw: str, safe: str) -> None:
    assert sanitise(raw) == safe


def test_long_names_are_cut_on_a_character_boundary() -> None:
    cut = sanitise("é" * 200)
    assert len(cut.encode()) <= 180
    assert cut == "é" * 90


def test_path_mappings_match_whole_components() -> None:
    mappings = parse_mappings("/data/dl=/mnt/dl; /data/dl/books=/books")
    assert map_path("/data/dl/x/y.mp3", mappings) == "/mnt/dl/x/y.mp3"
    assert map_path("/data/dl/books/a", mappings) == "/books/a"
    assert map_path("/data/dl2/a", mappings) == "/data/dl2/a"
    with pytest.raises(ValueError, match="remote=local"):
        parse_mappings("/only-one-side")


def test_the_sidecar_states_series_and_sequence(tmp_path: Path) -> None:
    path = write_sidecar(tmp_path, metadata_json(BOOK))
    data = json.loads(path.read_text())
    assert (data["title"], data["authors"], data["series"]) == (
        "The Glass Orchard",
        ["Mara Quill"],
        ["Lanterns #3"],
    )
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]
