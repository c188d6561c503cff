"""Placing downloads into the library: hard links that leave the torrent seeding,
idempotent re-imports, copies only when allowed, and nothing ever written outside the
library whatever the torrent's names and symlinks say."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from services.importer.layout import book_folder
from services.importer.placement import (
    How,
    Placement,
    PlacementError,
    UnsafePathError,
    execute,
    plan_placement,
)
from shared.events import BookRef

BOOK = BookRef(title="The Glass Orchard", author="Mara Quill", series="Lanterns", series_number="3")
FOLDER = book_folder(BOOK)
PART = "CD1/part 1.mp3"


@dataclass
class World:
    """A download, a library and a folder outside both that must stay empty."""

    download: Path
    library: Path
    outside: Path

    def plan(self, files: list[str], folder: PurePosixPath = FOLDER) -> Placement:
        return plan_placement(self.download, files, self.library, folder)

    @property
    def book(self) -> Path:
        return self.library / "Mara Quill" / "Lanterns" / "Vol. 3 - The Glass Orchard"

    def library_files(self) -> list[Path]:
        return sorted(p for p in self.library.rglob("*") if not p.is_dir())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    download = tmp_path / "downloads" / "release"
    (download / "CD1").mkdir(parents=True)
    (download / PART).write_bytes(b"a" * 1000)
    (download / "CD1" / "part 2.mp3").write_bytes(b"b" * 1000)
    (download / "cover.jpg").write_bytes(b"jpg")
    (download / "tracker.exe").write_bytes(b"nope")
    library = tmp_path / "library"
    library.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    yield World(download, library, outside)
    # Whatever the test did, nothing was written outside (tests may plant `secret.mp3`).
    assert {p.name for p in outside.rglob("*")} <= {"secret.mp3"}


def _cross_device(*args: object, **kwargs: object) -> None:
    raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))


# ------------------------------------------------------------------------- happy paths


def test_files_are_hard_linked_into_the_book_folder(world: World) -> None:
    before = {p: p.stat() for p in world.download.rglob("*") if p.is_file()}
    placement = world.plan([PART, "CD1/part 2.mp3", "cover.jpg", "tracker.exe"])
    assert placement.skipped == ("tracker.exe",)
    result = execute(placement, allow_copy=False)
    placed = world.book / PART
    assert set(result.linked) == {placed, world.book / "CD1/part 2.mp3", world.book / "cover.jpg"}
    assert result.copied == ()
    assert placed.stat().st_ino == (world.download / PART).stat().st_ino
    assert not (world.book / "tracker.exe").exists()
    after = {p: p.stat() for p in world.download.rglob("*") if p.is_file()}
    assert {p: (s.st_size, s.st_mtime_ns) for p, s in after.items()} == {
        p: (s.st_size, s.st_mtime_ns) for p, s in before.items()
    }  # the torrent's files are untouched and keep seeding


def test_importing_the_same_download_again_changes_nothing(world: World) -> None:
    files = [PART, "cover.jpg"]
    execute(world.plan(files), allow_copy=False)
    again = execute(world.plan(files), allow_copy=False)
    assert set(again.already_present) == {world.book / PART, world.book / "cover.jpg"}
    assert again.linked == again.copied == ()
    assert len(world.library_files()) == 2


def test_a_copy_from_an_earlier_import_counts_as_present(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(os, "link", _cross_device)
        execute(world.plan([PART]), allow_copy=True)
    again = execute(world.plan([PART]), allow_copy=False)
    assert again.files[0].how is How.ALREADY_PRESENT


def test_folders_are_created_with_the_umask_applied(world: World) -> None:
    previous = os.umask(0o027)
    try:
        execute(world.plan([PART]), allow_copy=False)
    finally:
        os.umask(previous)
    assert (world.library / "Mara Quill").stat().st_mode & 0o777 == 0o750
    assert (world.book / "CD1").stat().st_mode & 0o777 == 0o750


def test_a_symlink_inside_the_download_places_the_file_it_points_to(world: World) -> None:
    (world.download / "alias.mp3").symlink_to(world.download / PART)
    result = execute(world.plan(["alias.mp3"]), allow_copy=False)
    assert result.linked == (world.book / "alias.mp3",)
    assert (world.book / "alias.mp3").stat().st_ino == (world.download / PART).stat().st_ino
    assert not (world.book / "alias.mp3").is_symlink()


def test_a_wrapper_folder_in_the_download_is_dropped(world: World) -> None:
    wrapped = world.download / "Wrapper" / "Disc 1"
    wrapped.mkdir(parents=True)
    (wrapped / "a.m4b").write_bytes(b"m4b")
    execute(world.plan(["Wrapper/Disc 1/a.m4b"]), allow_copy=False)
    assert world.library_files() == [world.book / "Disc 1" / "a.m4b"]


def test_missing_companions_are_skipped_but_missing_audio_is_refused(world: World) -> None:
    assert world.plan([PART, "gone.jpg", "gone.exe"]).skipped == ("gone.jpg", "gone.exe")
    with pytest.raises(UnsafePathError) as caught:
        world.plan([PART, "gone.mp3"])
    assert caught.value.code == "NOT_A_FILE"


# ------------------------------------------------------------------------ hostile names


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "../../outside/evil.mp3",
        "/etc/passwd",
        "/outside/evil.mp3",
        "a/../../x.mp3",
        "CD1/../../../outside/x.mp3",
        "nul\x00.mp3",
        "",
        ".",
    ],
)
def test_names_that_leave_the_download_are_refused(world: World, name: str) -> None:
    with pytest.raises(UnsafePathError) as caught:
        world.plan([PART, name])
    assert caught.value.code == "PATH_ESCAPE"
    assert world.library_files() == []


def test_a_symlink_to_a_system_file_is_refused(world: World) -> None:
    (world.download / "hostname.mp3").symlink_to("/etc/hostname")
    with pytest.raises(UnsafePathError) as caught:
        world.plan([PART, "hostname.mp3"])
    assert caught.value.code == "SYMLINK_ESCAPE"
    assert world.library_files() == []


@pytest.mark.parametrize("name", ["secret.mp3", "secret.exe", "dangling.mp3"])
def test_any_symlink_out_of_the_download_refuses_the_whole_import(world: World, name: str) -> None:
    target = world.outside / ("missing" if name.startswith("dangling") else "secret.mp3")
    if name == "secret.mp3":
        target.write_bytes(b"private")
    (world.download / name).symlink_to(target)
    with pytest.raises(UnsafePathError) as caught:
        world.plan([PART, name])
    assert caught.value.code == "SYMLINK_ESCAPE"
    assert world.library_files() == []


def test_a_symlinked_folder_in_the_download_is_refused(world: World) -> None:
    (world.outside / "secret.mp3").write_bytes(b"private")
    (world.download / "CD9").symlink_to(world.outside, target_is_directory=True)
    with pytest.raises(UnsafePathError) as caught:
        world.plan(["CD9/secret.mp3"])
    assert caught.value.code == "SYMLINK_ESCAPE"


def test_a_library_folder_that_is_a_symlink_out_is_refused(world: World) -> None:
    (world.library / "Mara Quill").symlink_to(world.outside, target_is_directory=True)
    with pytest.raises(UnsafePathError) as caught:
        world.plan([PART])
    assert caught.value.code == "SYMLINK_ESCAPE"


def test_a_library_folder_that_is_a_symlink_within_is_refused(world: World) -> None:
    (world.library / "Elsewhere").mkdir()
    (world.library / "Mara Quill").symlink_to(world.library / "Elsewhere")
    with pytest.raises(UnsafePathError) as caught:
        world.plan([PART])
    assert caught.value.code == "SYMLINK_IN_LIBRARY"
    assert world.library_files() == []


def test_a_destination_file_that_is_a_symlink_out_is_refused(world: World) -> None:
    (world.book / "CD1").mkdir(parents=True)
    (world.book / PART).symlink_to(world.outside / "written-through.mp3")
    with pytest.raises(UnsafePathError) as caught:
        world.plan([PART])
    assert caught.value.code == "SYMLINK_ESCAPE"


def test_a_folder_swapped_for_a_symlink_after_planning_is_not_written_through(
    world: World,
) -> None:
    placement = world.plan([PART])
    (world.library / "Mara Quill").symlink_to(world.outside, target_is_directory=True)
    with pytest.raises(UnsafePathError) as caught:
        execute(placement, allow_copy=True)
    assert caught.value.code == "SYMLINK_ESCAPE"
    assert list(world.outside.iterdir()) == []


def test_a_folder_moved_away_while_placing_is_not_written_into(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    placement = world.plan([PART])
    elsewhere = tmp_path / "elsewhere"
    real_open = os.open

    def open_then_move_away(path: str, flags: int, *args: object, **kwargs: object) -> int:
        descriptor = real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]
        if path == "CD1":  # the last folder is open: now someone moves the book away
            (world.library / "Mara Quill").rename(elsewhere)
        return descriptor

    monkeypatch.setattr(os, "open", open_then_move_away)
    with pytest.raises(UnsafePathError) as caught:
        execute(placement, allow_copy=False)
    assert caught.value.code == "LIBRARY_CHANGED"
    assert [p for p in elsewhere.rglob("*") if not p.is_dir()] == []


def test_a_source_swapped_after_planning_is_not_placed(world: World) -> None:
    placement = world.plan([PART])
    (world.download / PART).unlink()
    (world.download / PART).symlink_to("/etc/hostname")
    with pytest.raises(UnsafePathError) as caught:
        execute(placement, allow_copy=True)
    assert caught.value.code == "SOURCE_CHANGED"
    assert world.library_files() == []


def test_a_book_folder_that_is_not_a_plain_path_is_refused(world: World) -> None:
    for folder in (PurePosixPath("../outside"), PurePosixPath("/outside"), PurePosixPath()):
        with pytest.raises(UnsafePathError) as caught:
            world.plan([PART], folder)
        assert caught.value.code == "PATH_ESCAPE"


def test_two_names_that_sanitise_alike_are_refused(world: World) -> None:
    (world.download / "a:b.mp3").write_bytes(b"1")
    (world.download / "a b.mp3").write_bytes(b"2")
    with pytest.raises(UnsafePathError) as caught:
        world.plan(["a:b.mp3", "a b.mp3"])
    assert caught.value.code == "NAME_CLASH"


def test_a_download_without_audio_is_refused(world: World) -> None:
    with pytest.raises(UnsafePathError) as caught:
        world.plan(["cover.jpg", "tracker.exe"])
    assert caught.value.code == "NO_AUDIO"


def test_a_folder_named_like_audio_is_not_a_file(world: World) -> None:
    (world.download / "folder.mp3").mkdir()
    with pytest.raises(UnsafePathError) as caught:
        world.plan(["folder.mp3"])
    assert caught.value.code == "NOT_A_FILE"


def test_a_missing_download_or_library_is_reported(world: World) -> None:
    with pytest.raises(UnsafePathError) as caught:
        plan_placement(world.download / "nope", [PART], world.library, FOLDER)
    assert caught.value.code == "DOWNLOAD_MISSING"
    with pytest.raises(UnsafePathError) as caught:
        plan_placement(world.download, [PART], world.library / "nope", FOLDER)
    assert caught.value.code == "LIBRARY_MISSING"


# ----------------------------------------------------------------- links, copies, clashes


@pytest.mark.parametrize("error", [errno.EXDEV, errno.EPERM])
def test_without_hard_links_it_copies_only_when_allowed(
    world: World, monkeypatch: pytest.MonkeyPatch, error: int
) -> None:
    def impossible(*args: object, **kwargs: object) -> None:
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(os, "link", impossible)
    placement = world.plan([PART, "cover.jpg"])
    with pytest.raises(PlacementError) as caught:
        execute(placement, allow_copy=False)
    assert caught.value.code == "HARDLINK_IMPOSSIBLE"
    assert not (world.library / "Mara Quill").exists()  # nothing half-placed
    result = execute(placement, allow_copy=True)
    copy = world.book / PART
    assert result.copied == (copy, world.book / "cover.jpg")
    assert copy.read_bytes() == b"a" * 1000
    assert copy.stat().st_ino != (world.download / PART).stat().st_ino
    assert copy.stat().st_mtime_ns == (world.download / PART).stat().st_mtime_ns
    assert [p.name for p in copy.parent.iterdir()] == ["part 1.mp3"]  # no partial file left


def test_other_link_failures_are_not_hidden(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "link", denied)
    with pytest.raises(PermissionError):
        execute(world.plan([PART]), allow_copy=True)


def test_a_different_file_in_place_is_not_overwritten_and_nothing_is_left(world: World) -> None:
    placement = world.plan([PART, "cover.jpg"])
    world.book.mkdir(parents=True)
    (world.book / "cover.jpg").write_bytes(b"someone else's")
    with pytest.raises(PlacementError) as caught:
        execute(placement, allow_copy=False)
    assert caught.value.code == "DESTINATION_EXISTS"
    assert (world.book / "cover.jpg").read_bytes() == b"someone else's"
    assert world.library_files() == [world.book / "cover.jpg"]  # part 1.mp3 was undone
    assert not (world.book / "CD1").exists()


def test_an_equal_file_already_in_place_is_accepted(world: World) -> None:
    (world.book / "CD1").mkdir(parents=True)
    (world.book / PART).write_bytes(b"a" * 1000)
    result = execute(world.plan([PART]), allow_copy=False)
    assert result.already_present == (world.book / PART,)
