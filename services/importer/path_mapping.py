"""Seeing qBittorrent's paths from the importer: prefix mappings, for containers that
mount the same storage at different places. Pure.

Settings text: `"/downloads=/mnt/media/downloads;/other=/x"` — `remote=local` pairs,
separated by `;` (or new lines). Prefixes match whole path components only, and the
longest matching one wins.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class PathMapping:
    """qBittorrent's path prefix `remote_prefix` is the importer's `local_prefix`."""

    remote_prefix: str
    local_prefix: str


def parse_mappings(text: str) -> list[PathMapping]:
    """The mappings in a settings string; ValueError naming the entry that is malformed."""
    mappings: list[PathMapping] = []
    seen: dict[str, str] = {}
    for entry in _entries(text):
        mapping = _parse_entry(entry)
        if seen.setdefault(mapping.remote_prefix, mapping.local_prefix) != mapping.local_prefix:
            raise ValueError(f"path mapping {entry!r}: {mapping.remote_prefix} is mapped twice")
        mappings.append(mapping)
    return mappings


def map_path(remote: str, mappings: Sequence[PathMapping]) -> str:
    """The importer's view of qBittorrent's `remote` path; unchanged when no prefix matches."""
    if not remote.startswith("/"):
        return remote
    parts = PurePosixPath(_clean(remote)).parts
    best: tuple[int, PathMapping] | None = None
    for mapping in mappings:
        prefix = PurePosixPath(_clean(mapping.remote_prefix)).parts
        if parts[: len(prefix)] == prefix and (best is None or len(prefix) > best[0]):
            best = len(prefix), mapping
    if best is None:
        return remote
    length, mapping = best
    return str(PurePosixPath(_clean(mapping.local_prefix), *parts[length:]))


def _entries(text: str) -> list[str]:
    pieces = text.replace("\n", ";").split(";")
    return [piece.strip() for piece in pieces if piece.strip()]


def _parse_entry(entry: str) -> PathMapping:
    if entry.count("=") != 1:
        raise ValueError(f"path mapping {entry!r} is not one 'remote=local' pair")
    remote, local = (side.strip() for side in entry.split("="))
    for side in (remote, local):
        if not side.startswith("/"):
            raise ValueError(f"path mapping {entry!r}: both sides must be absolute paths")
        if "\x00" in side or ".." in PurePosixPath(side).parts:
            raise ValueError(f"path mapping {entry!r}: {side!r} is not a plain path")
    return PathMapping(_clean(remote), _clean(local))


def _clean(path: str) -> str:
    """`/a//b/./c/` → `/a/b/c`; also folds a leading `//`, which POSIX leaves alone."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("/") else cleaned
