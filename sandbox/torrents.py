"""Making real .torrent files for the sandbox's releases."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import torf


def make_torrent(content: Path, tracker: str) -> bytes:
    """A private .torrent for a file or a folder, announcing to `tracker`."""
    torrent = torf.Torrent(path=content, trackers=[tracker], private=True, created_by="abauto")
    torrent.generate()
    stream = BytesIO()
    torrent.write_stream(stream)
    return stream.getvalue()
