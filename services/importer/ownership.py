"""Whose book folder is it? The importer never writes into a book folder it did not make.

Before placing anything it writes a marker, `.abauto-import.json`, into the book folder:
the book's key, the download's info-hash and the folders the import created.
Audiobookshelf skips every file and folder whose name starts with a dot when it scans,
so the marker never becomes part of the book. When the same download is imported again
(after Audiobookshelf was away, or after a crash) the marker says the folder is this
download's earlier placement, and the import goes on from there.

Any other existing folder for the book is a refusal, `LIBRARY_FOLDER_EXISTS` — also one
spelled differently in ways a person (or Audiobookshelf) would read as the same book:
case, Unicode composition (NFC/NFD), width, spacing, leading zeros (`Vol. 01` / `Vol. 1`).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from services.importer.placement import UnsafePathError

MARKER = ".abauto-import.json"
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_LEADING_ZEROS = re.compile(r"(?<!\d)(?<!\d\.)0+(?=\d)")
_SPACES = re.compile(r"\s+")
_MAX_MARKER = 64 * 1024


@dataclass(frozen=True)
class Claim:
    """What a marker says: which download placed the folder, and which folders it made."""

    book_key: str
    info_hash: str
    created: tuple[PurePosixPath, ...] = ()

    def same_download(self, other: Claim) -> bool:
        """Whether both claims are the same book from the same download."""
        return self.book_key == other.book_key and (
            self.info_hash.casefold() == other.info_hash.casefold()
        )

    def with_created(self, created: tuple[PurePosixPath, ...]) -> Claim:
        """This claim, also naming `created` (kept in order, each once)."""
        merged = tuple(dict.fromkeys((*self.created, *created)))
        return Claim(self.book_key, self.info_hash, merged)


def claim_text(claim: Claim) -> str:
    """The marker file's text for `claim`."""
    data = {
        "book_key": claim.book_key,
        "info_hash": claim.info_hash,
        "created_folders": [str(folder) for folder in claim.created],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def parse_claim(text: str) -> Claim | None:
    """The claim in a marker's text; None when it is not one of ours."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    key, info_hash, created = (data.get(k) for k in ("book_key", "info_hash", "created_folders"))
    if not isinstance(key, str) or not isinstance(info_hash, str):
        return None
    folders = created if isinstance(created, list) else []
    return Claim(key, info_hash, tuple(PurePosixPath(f) for f in folders if isinstance(f, str)))


def folder_key(name: str) -> str:
    """`name` as a reader compares folder names: `Vol. 01 - É` and `vol. 1 - é` are one."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _SPACES.sub(" ", text).strip(" .")
    return _LEADING_ZEROS.sub("", text)


def earlier_claim(library_root: Path, book_dir: PurePosixPath, mine: Claim) -> Claim | None:
    """This download's earlier claim on the book folder, or None when there is no folder
    yet; `UnsafePathError("LIBRARY_FOLDER_EXISTS")` when the book has a folder that is
    not this download's."""
    exact = library_root.joinpath(*book_dir.parts)
    found = _matching_folders(library_root, book_dir.parts)
    if not found:
        return None
    earlier = read_claim(exact) if exact in found else None
    if earlier is not None and earlier.same_download(mine):
        return earlier
    shown = ", ".join(str(path) for path in found)
    raise UnsafePathError(
        "LIBRARY_FOLDER_EXISTS",
        f"the library already has a folder for this book ({shown}); it is left alone",
    )


def read_claim(folder: Path) -> Claim | None:
    """The claim of the marker in `folder`; None when there is none (or it is not ours)."""
    try:
        descriptor = os.open(folder / MARKER, _READ)
    except OSError:
        return None
    try:
        raw = os.read(descriptor, _MAX_MARKER)
    finally:
        os.close(descriptor)
    return parse_claim(raw.decode("utf-8", errors="replace"))


def _matching_folders(folder: Path, parts: tuple[str, ...]) -> list[Path]:
    """Every folder below `folder` whose path matches `parts` name by name, by key."""
    if not parts:
        return [folder]
    wanted = folder_key(parts[0])
    try:
        entries = [e for e in os.scandir(folder) if e.is_dir() and folder_key(e.name) == wanted]
    except OSError:
        return []
    matches: list[Path] = []
    for entry in sorted(entries, key=lambda e: e.name):
        matches += _matching_folders(folder / entry.name, parts[1:])
    return matches
