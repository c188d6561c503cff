"""Where downloads may come from: only the configured download folders.

A download event names a folder; the importer takes files only from inside one of the
download roots (`ABAUTO_DOWNLOAD_ROOTS`), judged after symlinks and `..` are resolved,
so an event can never make it link a file from elsewhere (the library itself, /etc)
into the library.

Settings text: `"/media/downloads;/mnt/other"` — absolute paths separated by `;` (or
new lines), like `ABAUTO_PATH_MAPPINGS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from services.importer.placement import UnsafePathError


def parse_roots(text: str) -> tuple[Path, ...]:
    """The download roots in a settings string; ValueError for one that is not a plain
    absolute path."""
    roots = [piece.strip() for piece in text.replace("\n", ";").split(";") if piece.strip()]
    for root in roots:
        if not root.startswith("/") or "\0" in root or ".." in PurePosixPath(root).parts:
            raise ValueError(f"download root {root!r} is not a plain absolute path")
    return tuple(Path(root) for root in dict.fromkeys(roots))


def overlaps(first: Path, second: Path) -> bool:
    """Whether one of the folders is, or lies inside, the other (symlinks resolved)."""
    a, b = first.resolve(), second.resolve()
    return a.is_relative_to(b) or b.is_relative_to(a)


def confine(content: Path, roots: Sequence[Path]) -> Path:
    """`content`, resolved, if it is one of `roots` or inside one;
    `UnsafePathError("OUTSIDE_DOWNLOADS")` otherwise."""
    try:
        real = content.resolve(strict=True)
    except (OSError, RuntimeError):
        raise UnsafePathError("DOWNLOAD_MISSING", f"{content} does not exist") from None
    if any(real.is_relative_to(root.resolve()) for root in roots):
        return real
    raise UnsafePathError(
        "OUTSIDE_DOWNLOADS",
        f"{content} is not inside a download folder (ABAUTO_DOWNLOAD_ROOTS); nothing is "
        "taken from elsewhere",
    )
