"""Making real .torrent files for the sandbox's releases."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import torf

DEAD_TRACKER = "http://127.0.0.1:9/announce"
"""Nothing listens there: peers are added by hand, as the tests do."""


def make_torrent(content: Path, tracker: str = DEAD_TRACKER) -> bytes:
    """A private .torrent for a file or a folder, announcing to `tracker`."""
    torrent = torf.Torrent(path=content, trackers=[tracker], private=True, created_by="abauto")
    torrent.generate()
    stream = BytesIO()
    torrent.write_stream(stream)
    return stream.getvalue()


def info_hash_of(torrent: bytes) -> str:
    """The torrent's info-hash, lowercase hex (what qBittorrent and Torznab show)."""
    return str(torf.Torrent.read_stream(BytesIO(torrent)).infohash).lower()
