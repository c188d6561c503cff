"""Seeing qBittorrent's paths from the importer: prefix mappings, for containers that
mount the same storage at different places. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class PathMapping:
    """qBittorrent's `remote` prefix is the importer's `local` prefix."""

    remote: PurePosixPath
    local: PurePosixPath


def parse_mappings(text: str) -> list[PathMapping]:
    """`'/downloads=/mnt/media/downloads;/x=/y'` → mappings; ValueError if malformed."""
    mappings = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        remote, sep, local = part.partition("=")
        if not sep or not remote.strip() or not local.strip():
            raise ValueError(f"path mapping {part!r} is not 'remote=local'")
        pair = PurePosixPath(remote.strip()), PurePosixPath(local.strip())
        if not all(p.is_absolute() for p in pair):
            raise ValueError(f"path mapping {part!r} must map absolute paths")
        mappings.append(PathMapping(*pair))
    return mappings


def map_path(remote: str, mappings: Sequence[PathMapping]) -> str:
    """The importer's view of `remote`: the longest matching prefix, whole components
    only (`/data/dl` does not match `/data/dl2`); unchanged when none matches."""
    path = PurePosixPath(remote)
    matching = [m for m in mappings if path == m.remote or m.remote in path.parents]
    if not matching:
        return remote
    best = max(matching, key=lambda m: len(m.remote.parts))
    return str(best.local / path.relative_to(best.remote))
