"""What the sandbox's indexer offers for each missing book: real torrents of real audio,
named the way trackers and scene groups name them.

Without trials, each missing book has one right release. With trials
(`Sandbox(trials=True)`, as `make demo` runs), books 3 and 5 also have releases a
careful downloader must pass over, or must learn to refuse and never take again:

Book 3, "The Glass Orchard" (the owned books are read by `NARRATOR`):
  - WRONG_BOOK: named right, read by the series' narrator, the most seeders, but its
    audio is book 1's: downloaded, refused at import, blocklisted.
  - RUNTIME_MISMATCH: named right, the series' narrator, but it runs a quarter of the
    catalogue's time (an unlabelled abridgement): refused at import, blocklisted.
  - the right one, `Author - Series 3 - Title [m4b] {Narrator}` (Audiobookshelf's own
    narrator convention).
  - a different narrator ("read by …") with more seeders than the right one: ranked
    below it, never taken.
  - "(Abridged)": dropped.  "[GER / M4B]" (Jackett's MyAnonamouse style): dropped.
Book 5, "The Last Keeper":
  - DOWNLOAD_STALLED: the most seeders on the indexer, but nobody seeds it.
  - LANGUAGE_MISMATCH: named as an English release would be, its audio tagged German.
  - the right one, scene-named: `Mara_Quill-The_Last_Keeper-AUDIOBOOK-WEB-EN-2025-FiH`.

Each book sees two refusals, within the default budget of three failed attempts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from sandbox.audio import AudioTags, write_audio
from sandbox.torrents import make_torrent

NARRATOR = "Ilse Marrow"
"""Who reads the owned books of the sandbox series."""


@dataclass(frozen=True)
class Offer:
    """One release the indexer lists for a missing book, and what should become of it."""

    position: int
    """The missing book it claims to be."""
    name: str
    """The release name, as the indexer shows it."""
    seeders: int
    fate: str
    """What a careful downloader does with it: "taken", "ranked below", "dropped: …",
    or the code it is refused or failed with."""
    audio_of: int | None = None
    """The position whose audio it really carries (None: its own)."""
    length: float = 1.0
    """Its running time, as a share of the book's."""
    language: str | None = None
    """The language its audio is tagged with."""
    seeded: bool = True
    """Whether anyone seeds it."""

    @property
    def folder(self) -> str:
        """Its content folder (the name, made safe as one path component)."""
        return re.sub(r"[/\\\x00]", "_", self.name)


def offers(position: int, title: str, author: str, series: str, *, trials: bool) -> list[Offer]:
    """Every release of the book at `position`."""
    right = f"{author} - {series} {position} - {title} [m4b]"
    if not trials or position not in (3, 5):
        return [Offer(position, right, 1, "taken")]
    if position == 3:
        return [
            Offer(position, f"{right} {{{NARRATOR}}} [2CD]", 20, "WRONG_BOOK", audio_of=1),
            Offer(position, f"{title} - {author} {{{NARRATOR}}} [m4b]", 10, "RUNTIME_MISMATCH",
                  length=0.25),
            Offer(position, f"{right} {{{NARRATOR}}}", 2, "taken"),
            Offer(position, f"{author} - {title} (Unabridged) [m4b] read by Tom Vance", 8,
                  "ranked below: another narrator"),
            Offer(position, f"{title} (Abridged) by {author} [m4b]", 12, "dropped: abridged"),
            Offer(position, f"{title} by {author} [GER / M4B]", 15, "dropped: language"),
        ]  # fmt: skip
    scene = f"{author}-{title}-AUDIOBOOK-WEB-EN-2025-FiH".replace(" ", "_")
    return [
        Offer(position, f"{author} - {title} [m4b]", 30, "DOWNLOAD_STALLED", seeded=False),
        Offer(position, f"{author} - {series} {position} - {title} (2025) [m4b]", 6,
              "LANGUAGE_MISMATCH", language="deu"),
        Offer(position, scene, 3, "taken"),
    ]  # fmt: skip


def write_offer(
    offer: Offer, root: Path, tags: AudioTags, seconds: float, tracker: str
) -> tuple[Path, bytes]:
    """The offer's content under `root` (real audio carrying `tags`, a cover) and its
    .torrent announcing to `tracker`."""
    content = root / offer.folder
    tagged = tags if offer.language is None else replace(tags, language=offer.language)
    write_audio(content / f"{tags.album}.m4b", tagged, seconds * offer.length)
    (content / "cover.jpg").write_bytes(os.urandom(4096))
    return content, make_torrent(content, tracker=tracker)
