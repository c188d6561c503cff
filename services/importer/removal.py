"""Taking back what an import placed, when the import finally fails.

Only what this download placed is removed: its files (hard links or copies), its
sidecar and marker — each only if it is still the very file placed (same inode) — then
the folders it created, deepest first, if they are empty.
Everything is reached from the library root through folders opened without following
symlinks, so a symlink swapped in meanwhile cannot turn the removal elsewhere. What
cannot be removed is reported, with the reason, never forced.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath

Identity = tuple[int, int]
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_placement(
    library_root: Path,
    book_dir: PurePosixPath,
    files: Mapping[PurePosixPath, Identity],
    created: Sequence[PurePosixPath],
) -> list[str]:
    """Remove `files` (relative to the book folder, with the (device, inode) each had when
    placed), then the `created` folders (relative to the library root) that are empty;
    return what was left, each with why."""
    left: list[str] = []
    for relative, identity in files.items():
        where = book_dir.joinpath(relative)
        left += _remove(library_root, where, _unlink_if(identity))
    for folder in sorted(created, key=lambda path: len(path.parts), reverse=True):
        left += _remove(library_root, folder, _rmdir)
    return left


def identity(path: Path) -> Identity | None:
    """(device, inode) of `path` itself (not following a symlink); None if it is absent."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


class _ChangedError(OSError):
    """The file is no longer the one placed: someone else's now."""


def _unlink_if(placed: Identity) -> Callable[[str, int], None]:
    def unlink(name: str, parent: int) -> None:
        status = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if (status.st_dev, status.st_ino) != placed:
            raise _ChangedError("replaced since this import placed it")
        os.unlink(name, dir_fd=parent)

    return unlink


def _rmdir(name: str, parent: int) -> None:
    os.rmdir(name, dir_fd=parent)


def _remove(root: Path, relative: PurePosixPath, how: Callable[[str, int], None]) -> list[str]:
    try:
        with _folder(root, relative.parent.parts) as parent:
            how(relative.name, parent)
    except FileNotFoundError:
        return []
    except OSError as error:
        return [f"{root.joinpath(*relative.parts)} left: {_why(root, relative, error)}"]
    return []


def _why(root: Path, relative: PurePosixPath, error: OSError) -> str:
    if isinstance(error, _ChangedError):
        return str(error)
    if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
        return error.strerror or str(error)
    with contextlib.suppress(OSError):
        names = sorted(os.listdir(root.joinpath(*relative.parts)))
        shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
        return f"not empty, it holds files this import did not place ({shown})"
    return "not empty"


@contextlib.contextmanager
def _folder(root: Path, parts: tuple[str, ...]) -> Iterator[int]:
    """The folder `parts` below `root`, opened component by component, no symlinks."""
    descriptor = os.open(root, _DIRECTORY)
    try:
        for part in parts:
            inner = os.open(part, _DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        yield descriptor
    finally:
        os.close(descriptor)
