"""Putting a download's files into the library, safely. Synchronous filesystem code; the
service runs it in a worker thread.

`plan_placement` checks everything before anything is written: every file name must be
relative, free of `..` and NUL, and name a regular file inside the download (a symlink
pointing out of it is refused); every destination must lie inside the library root, and
no existing folder on the way may be a symlink. Only audio files and their companions
(covers, cue sheets, notes) are placed. One bad name refuses the whole import: a torrent
that tries to escape is not partly trusted.

`execute` hard-links each file (the torrent keeps seeding the original), copying only
when linking is impossible and copying is allowed. It re-checks containment right before
each write and never follows a symlink at the destination.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from services.importer.layout import sanitise

AUDIO = frozenset({".m4b", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma"})
COMPANIONS = frozenset({".jpg", ".jpeg", ".png", ".cue", ".nfo", ".txt", ".epub", ".pdf"})
LINK_IMPOSSIBLE = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP})


class UnsafePathError(Exception):
    """The download cannot be placed without leaving the library (or is not a book)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class PlacementError(Exception):
    """Placing the files failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Move:
    """One file to place: the real source file and its destination."""

    source: Path
    target: Path


@dataclass(frozen=True)
class Placement:
    """A checked plan: where the book goes and which files go there."""

    library_root: Path
    folder: Path
    moves: tuple[Move, ...]
    skipped: tuple[str, ...]


@dataclass(frozen=True)
class PlacementResult:
    """What was placed, and how."""

    linked: tuple[Path, ...]
    copied: tuple[Path, ...]


def plan_placement(
    content_root: Path, files: Sequence[str], library_root: Path, book_dir: PurePosixPath
) -> Placement:
    """Check every name and destination; raise `UnsafePathError` on the first bad one."""
    root = _existing_dir(library_root, "LIBRARY_MISSING")
    content = _existing_dir(content_root, "DOWNLOAD_MISSING")
    if book_dir.is_absolute() or any(p in ("", ".", "..") for p in book_dir.parts):
        raise UnsafePathError("PATH_ESCAPE", f"book folder {str(book_dir)!r} is not a plain path")
    folder = root.joinpath(*book_dir.parts)
    _refuse_symlinks_on_the_way(root, folder)
    moves, skipped = [], []
    for name in files:
        relative = _relative(name)
        source = _source(content, relative, name)
        if relative.suffix.lower() not in AUDIO | COMPANIONS:
            skipped.append(name)
            continue
        target = folder.joinpath(*(sanitise(part) for part in relative.parts))
        if not target.is_relative_to(root):
            raise UnsafePathError("PATH_ESCAPE", f"{name!r} would land outside the library")
        moves.append(Move(source, target))
    if not any(m.source.suffix.lower() in AUDIO for m in moves):
        raise UnsafePathError("NO_AUDIO", "the download holds no audio file")
    return Placement(root, folder, tuple(moves), tuple(skipped))


def execute(placement: Placement, allow_copy: bool) -> PlacementResult:
    """Hard-link (or, if allowed and needed, copy) every file into place."""
    linked, copied = [], []
    for move in placement.moves:
        _make_folders(placement.library_root, move.target.parent)
        if _already_there(move):
            linked.append(move.target)
            continue
        try:
            os.link(move.source, move.target, follow_symlinks=False)
            linked.append(move.target)
        except OSError as error:
            if error.errno not in LINK_IMPOSSIBLE:
                raise
            if not allow_copy:
                raise PlacementError(
                    "HARDLINK_IMPOSSIBLE",
                    f"cannot hard-link into the library ({os.strerror(error.errno)}) and "
                    "copying is not allowed (ABAUTO_ALLOW_COPY)",
                ) from None
            _copy(move)
            copied.append(move.target)
    return PlacementResult(tuple(linked), tuple(copied))


def _existing_dir(path: Path, code: str) -> Path:
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnsafePathError(code, f"{path} does not exist") from None
    if not resolved.is_dir():
        raise UnsafePathError(code, f"{path} is not a folder")
    return resolved


def _relative(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if "\x00" in name or relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise UnsafePathError("PATH_ESCAPE", f"file name {name!r} leaves the download")
    return relative


def _source(content: Path, relative: PurePosixPath, name: str) -> Path:
    try:
        real = content.joinpath(*relative.parts).resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnsafePathError("NOT_A_FILE", f"{name!r} is not in the download") from None
    if not real.is_relative_to(content):
        raise UnsafePathError("SYMLINK_ESCAPE", f"{name!r} points outside the download")
    if not real.is_file():
        raise UnsafePathError("NOT_A_FILE", f"{name!r} is not a regular file")
    return real


def _refuse_symlinks_on_the_way(root: Path, folder: Path) -> None:
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise UnsafePathError("SYMLINK_ESCAPE", f"{current} is a symlink")
        if not current.exists():
            return


def _make_folders(root: Path, folder: Path) -> None:
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        with contextlib.suppress(FileExistsError):
            os.mkdir(current, 0o755)
        mode = os.lstat(current).st_mode
        if not stat.S_ISDIR(mode):  # a symlink (or a file) swapped in: never write through it
            raise UnsafePathError("SYMLINK_ESCAPE", f"{current} is not a real folder")


def _already_there(move: Move) -> bool:
    try:
        target = os.lstat(move.target)
    except FileNotFoundError:
        return False
    source = os.stat(move.source)
    if stat.S_ISREG(target.st_mode) and (target.st_dev, target.st_ino) == (
        source.st_dev,
        source.st_ino,
    ):
        return True  # linked by an earlier import of the same download
    same_size = stat.S_ISREG(target.st_mode) and target.st_size == source.st_size
    if same_size and _digest(move.target) == _digest(move.source):
        return True
    raise PlacementError("DESTINATION_EXISTS", f"{move.target} exists with other content")


def _copy(move: Move) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    descriptor = os.open(move.target, flags, 0o644)
    with move.source.open("rb") as source, os.fdopen(descriptor, "wb") as target:
        shutil.copyfileobj(source, target, 1024 * 1024)
    shutil.copystat(move.source, move.target)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()
