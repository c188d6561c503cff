"""Putting a download's files into the library, safely. Synchronous filesystem code; the
service runs it in a worker thread (`asyncio.to_thread`).

`plan_placement` checks everything before anything is written. Every file name must be
relative, free of `..` and NUL, and lead (following the download's own symlinks) to a
regular file inside the download; one bad name refuses the whole import, because a
torrent that tries to escape is not partly trusted. Every destination must lie inside
the library root, and no existing folder on the way may be a symlink. Only audio and its
companions (covers, cue sheets, notes, ebooks) are placed; everything else is skipped and
listed. Inside the book folder the files are arranged as Audiobookshelf reads one book
(`layout.arrange_files`).

`execute` hard-links each file (the torrent keeps seeding the original), copying only
when a hard link is impossible and copying is allowed. It reaches every folder from the
library root one component at a time through directory descriptors opened with
`O_NOFOLLOW`, so a symlink swapped in after planning cannot redirect a write; it checks
again, right before each write, that the folder is still where the plan put it and the
source is still the file that was planned. If anything fails, what this run created is
removed again: an import is placed whole or not at all.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from services.importer.layout import arrange_files

AUDIO = frozenset({".m4b", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma"})
COMPANIONS = frozenset({".jpg", ".jpeg", ".png", ".cue", ".nfo", ".txt", ".epub", ".pdf"})
# Hard links cannot work here: another filesystem, links forbidden (fs.protected_hardlinks
# on another user's file, or a filesystem without links), too many links, not supported.
LINK_IMPOSSIBLE = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP})

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_BLOCK = 1024 * 1024


class UnsafePathError(Exception):
    """The download cannot be placed without leaving the library, or holds no book.

    `code`: PATH_ESCAPE, SYMLINK_ESCAPE, SYMLINK_IN_LIBRARY, NOT_A_FILE, NOT_A_FOLDER,
    NAME_CLASH, NO_AUDIO, EMPTY_AUDIO, LIBRARY_MISSING, DOWNLOAD_MISSING, and while
    executing SOURCE_CHANGED, LIBRARY_CHANGED.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PlacementError(Exception):
    """Placing checked files failed. `code`: HARDLINK_IMPOSSIBLE, DESTINATION_EXISTS."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Move:
    """One file to place: the real file in the download, and where it goes."""

    source: Path
    """The file in the download, symlinks resolved."""
    relative: PurePosixPath
    """Its destination, relative to the book folder."""
    identity: tuple[int, int]
    """(device, inode) of the source when planned: it must still be that file."""


@dataclass(frozen=True)
class Placement:
    """A checked plan: where the book goes, which files go there, which were left out."""

    library_root: Path
    """The library root, symlinks resolved."""
    book_dir: PurePosixPath
    """The book folder, relative to the library root."""
    moves: tuple[Move, ...]
    skipped: tuple[str, ...]
    """Names from the download that are not placed (not audio or a companion)."""

    @property
    def folder(self) -> Path:
        """The book folder."""
        return self.library_root.joinpath(*self.book_dir.parts)

    def target(self, move: Move) -> Path:
        """Where `move` puts its file."""
        return self.folder.joinpath(*move.relative.parts)


class How(StrEnum):
    """How a file got into the library."""

    LINKED = "linked"
    COPIED = "copied"
    ALREADY_PRESENT = "already_present"
    """Placed by an earlier import of the same download (same inode or same content)."""


@dataclass(frozen=True)
class PlacedFile:
    """One file in the library."""

    path: Path
    how: How


@dataclass(frozen=True)
class PlacementResult:
    """What `execute` did, file by file."""

    files: tuple[PlacedFile, ...]
    created_folders: tuple[PurePosixPath, ...] = ()
    """Folders this run created, relative to the library root, outermost first."""

    @property
    def linked(self) -> tuple[Path, ...]:
        """Files hard-linked by this run."""
        return self._paths(How.LINKED)

    @property
    def copied(self) -> tuple[Path, ...]:
        """Files copied by this run."""
        return self._paths(How.COPIED)

    @property
    def already_present(self) -> tuple[Path, ...]:
        """Files that were already in place."""
        return self._paths(How.ALREADY_PRESENT)

    def _paths(self, how: How) -> tuple[Path, ...]:
        return tuple(f.path for f in self.files if f.how is how)


# ------------------------------------------------------------------------------ planning


def plan_placement(
    content_root: Path, files: Sequence[str], library_root: Path, book_dir: PurePosixPath
) -> Placement:
    """Check every name and destination; raise `UnsafePathError` on the first bad one."""
    if isinstance(files, str):
        raise TypeError("files must be a list of names, not one string")
    root = _real_folder(library_root, "LIBRARY_MISSING")
    content = _real_folder(content_root, "DOWNLOAD_MISSING")
    _check_book_dir(book_dir)
    found = [(name, *_checked(content, name)) for name in dict.fromkeys(files)]
    kept = [(relative, source) for _, relative, source in found if source is not None]
    audio = [relative for relative, _ in kept if _is_audio(relative)]
    if not audio:
        raise UnsafePathError("NO_AUDIO", "the download holds no audio file")
    arranged = arrange_files([relative for relative, _ in kept], audio)
    _refuse_clashes([relative for relative, _ in kept], arranged)
    moves = tuple(
        Move(real, where, _identity(status))
        for (_, (real, status)), where in zip(kept, arranged, strict=True)
    )
    skipped = tuple(name for name, _, source in found if source is None)
    placement = Placement(root, book_dir, moves, skipped)
    for move in moves:
        _refuse_symlinks_on_the_way(root, placement.target(move))
    return placement


def _real_folder(path: Path, code: str) -> Path:
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnsafePathError(code, f"{path} does not exist") from None
    if not real.is_dir():
        raise UnsafePathError(code, f"{path} is not a folder")
    return real


def _check_book_dir(book_dir: PurePosixPath) -> None:
    parts = book_dir.parts
    if book_dir.is_absolute() or not parts or any(p in (".", "..") or "\0" in p for p in parts):
        raise UnsafePathError("PATH_ESCAPE", f"book folder {str(book_dir)!r} is not a plain path")


def _checked(content: Path, name: str) -> tuple[PurePosixPath, tuple[Path, os.stat_result] | None]:
    """The name's relative path and its real file (None: left out); a bad name raises."""
    relative = _relative(name)
    return relative, _source(content, relative, name)


def _relative(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if "\0" in name or relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise UnsafePathError("PATH_ESCAPE", f"file name {name!r} leaves the download")
    return relative


def _source(
    content: Path, relative: PurePosixPath, name: str
) -> tuple[Path, os.stat_result] | None:
    """The real file behind `name` and its status; None if it is left out."""
    try:
        real = content.joinpath(*relative.parts).resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise UnsafePathError("NOT_A_FILE", f"{name!r} is a symlink loop") from None
    if not real.is_relative_to(content):
        raise UnsafePathError("SYMLINK_ESCAPE", f"{name!r} is a symlink out of the download")
    if relative.suffix.lower() not in AUDIO | COMPANIONS:
        return None
    try:
        status = os.stat(real)
    except FileNotFoundError:
        status = None
    if status is not None and stat.S_ISREG(status.st_mode):
        if status.st_size == 0 and _is_audio(relative):
            raise UnsafePathError("EMPTY_AUDIO", f"{name!r} is empty (0 bytes)")
        return real, status
    if _is_audio(relative):  # a missing cover is no reason to refuse; missing audio is
        raise UnsafePathError("NOT_A_FILE", f"{name!r} is not a regular file in the download")
    return None


def _is_audio(relative: PurePosixPath) -> bool:
    return relative.suffix.lower() in AUDIO


def _refuse_clashes(relatives: list[PurePosixPath], arranged: list[PurePosixPath]) -> None:
    seen: dict[PurePosixPath, PurePosixPath] = {}
    for relative, where in zip(relatives, arranged, strict=True):
        other = seen.setdefault(where, relative)
        if other != relative:
            raise UnsafePathError(
                "NAME_CLASH",
                f"{str(other)!r} and {str(relative)!r} would both be placed as {where}",
            )


def _refuse_symlinks_on_the_way(root: Path, target: Path) -> None:
    """No existing component below the root may be a symlink (or, for folders, a file)."""
    current = root
    parts = target.relative_to(root).parts
    for depth, part in enumerate(parts, start=1):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISLNK(mode):
            _refuse_symlink(root, current)
        if depth < len(parts) and not stat.S_ISDIR(mode):
            raise UnsafePathError("NOT_A_FOLDER", f"{current} exists and is not a folder")


def _refuse_symlink(root: Path, link: Path) -> None:
    try:
        inside = link.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        inside = False
    if inside:
        raise UnsafePathError(
            "SYMLINK_IN_LIBRARY", f"{link} is a symlink; book folders must be real folders"
        )
    raise UnsafePathError("SYMLINK_ESCAPE", f"{link} is a symlink leading out of the library")


# ------------------------------------------------------------------------------ executing


def execute(
    placement: Placement, allow_copy: bool, marker: Marker | None = None
) -> PlacementResult:
    """Hard-link (or, if allowed and linking is impossible, copy) every file into place.

    `marker`, if given, is written into the book folder once the folders exist and before
    any file: its name, and a function from the folders this run created (relative to the
    library root) to its text.
    """
    with _Folders(placement) as folders:
        try:
            if marker is not None:
                for move in placement.moves:  # every folder first: the marker names them all
                    folders.descriptor((*placement.book_dir.parts, *move.relative.parent.parts))
                _write_marker(placement, folders, marker)
            placed = [_place(placement, folders, move, allow_copy) for move in placement.moves]
        except BaseException:
            folders.undo()
            raise
    return PlacementResult(tuple(placed), folders.created)


@dataclass(frozen=True)
class Marker:
    """A small file saying who placed the book folder, written before anything else."""

    name: str
    text: Callable[[tuple[PurePosixPath, ...]], str]
    first: bool = False
    """No earlier placement: the book folder must be created by this run, so one that
    appeared since it was checked is refused rather than written into."""


def _write_marker(placement: Placement, folders: _Folders, marker: Marker) -> None:
    parts = placement.book_dir.parts
    folder = folders.descriptor(parts)
    folders.verify(parts)
    if marker.first and PurePosixPath(*parts) not in folders.created:
        raise UnsafePathError(
            "LIBRARY_FOLDER_EXISTS", f"{placement.folder} appeared while placing; left alone"
        )
    existed = _exists(marker.name, folder)
    partial = f".abauto-{secrets.token_hex(6)}.partial"
    try:
        with _opened(os.open(partial, _CREATE, 0o644, dir_fd=folder)) as out:
            os.write(out, marker.text(folders.created).encode())
            os.fsync(out)
        os.replace(partial, marker.name, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=folder)
    if not existed:
        folders.created_files.append((parts, marker.name))


class _Folders:
    """Descriptors of the folders under the library root, each opened from its parent
    without following a symlink; remembers what it created, to undo a failed run."""

    def __init__(self, placement: Placement) -> None:
        self._root = placement.library_root
        self._open: dict[tuple[str, ...], int] = {}
        self.created_files: list[tuple[tuple[str, ...], str]] = []
        self._created_folders: list[tuple[str, ...]] = []

    def __enter__(self) -> _Folders:
        try:
            self._open[()] = os.open(self._root, _DIRECTORY)
        except OSError as error:
            raise UnsafePathError("LIBRARY_MISSING", f"{self._root}: {error.strerror}") from None
        return self

    def __exit__(self, *exc_info: object) -> None:
        for descriptor in self._open.values():
            os.close(descriptor)

    def descriptor(self, parts: tuple[str, ...]) -> int:
        """The folder `parts` below the root, created (mode 0o755 less umask) if missing."""
        if parts not in self._open:
            parent = self.descriptor(parts[:-1])
            self._open[parts] = self._enter(parent, parts)
        return self._open[parts]

    @property
    def created(self) -> tuple[PurePosixPath, ...]:
        """The folders this run created, relative to the library root, outermost first."""
        return tuple(PurePosixPath(*parts) for parts in self._created_folders)

    def verify(self, parts: tuple[str, ...]) -> None:
        """The folder is still reached by its path, through no symlink: not moved away."""
        path = self._root.joinpath(*parts)
        try:
            same = _identity(os.lstat(path)) == _identity(os.fstat(self._open[parts]))
        except OSError:
            same = False
        if not same or os.path.realpath(path) != str(path):
            raise UnsafePathError("LIBRARY_CHANGED", f"{path} moved while placing the files")

    def undo(self) -> None:
        """Remove the files, then the (empty) folders, this run created."""
        for parts, name in reversed(self.created_files):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=self._open[parts])
        for parts in reversed(self._created_folders):
            with contextlib.suppress(OSError):
                os.rmdir(parts[-1], dir_fd=self._open[parts[:-1]])

    def _enter(self, parent: int, parts: tuple[str, ...]) -> int:
        name = parts[-1]
        try:
            os.mkdir(name, 0o755, dir_fd=parent)
            self._created_folders.append(parts)
        except FileExistsError:
            pass
        try:
            return os.open(name, _DIRECTORY, dir_fd=parent)
        except OSError as error:
            where = self._root.joinpath(*parts)
            if _is_symlink(name, parent):  # Linux says ELOOP or ENOTDIR
                raise UnsafePathError("SYMLINK_ESCAPE", f"{where} became a symlink") from None
            raise UnsafePathError("NOT_A_FOLDER", f"{where}: {error.strerror}") from None


def _place(placement: Placement, folders: _Folders, move: Move, allow_copy: bool) -> PlacedFile:
    parts = (*placement.book_dir.parts, *move.relative.parent.parts)
    folder, name = folders.descriptor(parts), move.relative.name
    target = placement.target(move)
    folders.verify(parts)
    _check_source(move)
    if _already_there(folder, name, move, target):
        return PlacedFile(target, How.ALREADY_PRESENT)
    how = _link_or_copy(folder, name, move, allow_copy, target)
    folders.created_files.append((parts, name))
    if how is How.LINKED:
        _confirm_link(folder, name, move)
    return PlacedFile(target, how)


def _check_source(move: Move) -> None:
    try:
        status = os.lstat(move.source)
    except OSError:
        status = None
    if status is None or not stat.S_ISREG(status.st_mode) or _identity(status) != move.identity:
        raise UnsafePathError("SOURCE_CHANGED", f"{move.source} changed since it was checked")


def _already_there(folder: int, name: str, move: Move, target: Path) -> bool:
    try:
        existing = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISREG(existing.st_mode):
        if _identity(existing) == move.identity:
            return True  # linked by an earlier import of the same download
        source = os.stat(move.source)
        if existing.st_size == source.st_size and _digest(name, folder) == _digest(move.source):
            return True  # copied by an earlier import
    raise PlacementError("DESTINATION_EXISTS", f"{target} already exists with other content")


def _link_or_copy(folder: int, name: str, move: Move, allow_copy: bool, target: Path) -> How:
    try:
        os.link(move.source, name, dst_dir_fd=folder, follow_symlinks=False)
        return How.LINKED
    except FileExistsError:
        raise PlacementError("DESTINATION_EXISTS", f"{target} appeared while placing") from None
    except OSError as error:
        if error.errno not in LINK_IMPOSSIBLE:
            raise
        if not allow_copy:
            raise PlacementError(
                "HARDLINK_IMPOSSIBLE",
                f"cannot hard-link {move.source} into the library "
                f"({errno.errorcode.get(error.errno or 0, '?')}: {error.strerror}) and copying "
                "is not allowed (ABAUTO_ALLOW_COPY)",
            ) from None
    _copy(folder, name, move)
    return How.COPIED


def _confirm_link(folder: int, name: str, move: Move) -> None:
    """The new entry is the planned file itself (not a symlink swapped in meanwhile)."""
    linked = os.stat(name, dir_fd=folder, follow_symlinks=False)
    if not stat.S_ISREG(linked.st_mode) or _identity(linked) != move.identity:
        raise UnsafePathError("SOURCE_CHANGED", f"{move.source} changed while it was linked")


def _copy(folder: int, name: str, move: Move) -> None:
    """Like `shutil.copy2` (content and times), through descriptors, under a temporary
    name first so that an interrupted copy never looks like a placed file."""
    partial = f".abauto-{secrets.token_hex(6)}.partial"
    try:
        with _opened(os.open(move.source, _READ)) as source:
            status = os.fstat(source)
            if not stat.S_ISREG(status.st_mode) or _identity(status) != move.identity:
                raise UnsafePathError("SOURCE_CHANGED", f"{move.source} changed before the copy")
            with _opened(os.open(partial, _CREATE, 0o644, dir_fd=folder)) as copy:
                _copy_bytes(source, copy)
                os.utime(copy, ns=(status.st_atime_ns, status.st_mtime_ns))
                os.fsync(copy)
        if _exists(name, folder):
            raise PlacementError("DESTINATION_EXISTS", f"{name} appeared while it was copied")
        os.rename(partial, name, src_dir_fd=folder, dst_dir_fd=folder)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial, dir_fd=folder)


def _copy_bytes(source: int, target: int) -> None:
    with open(source, "rb", closefd=False) as reader, open(target, "wb", closefd=False) as writer:
        shutil.copyfileobj(reader, writer, _BLOCK)


@contextlib.contextmanager
def _opened(descriptor: int) -> Iterator[int]:
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _is_symlink(name: str, folder: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _exists(name: str, folder: int) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _digest(path: str | Path, folder: int | None = None) -> str:
    digest = hashlib.sha256()
    with _opened(os.open(path, _READ, dir_fd=folder)) as descriptor:
        while block := os.read(descriptor, _BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _identity(status: os.stat_result) -> tuple[int, int]:
    return status.st_dev, status.st_ino
