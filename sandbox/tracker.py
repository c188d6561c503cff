"""A BitTorrent HTTP tracker for the sandbox (BEP 3 announce, BEP 23 compact peers).

The sandbox's torrents announce here, so the downloader's qBittorrent finds the seeding
qBittorrent the way it finds peers in real life: through the tracker named in the
.torrent, with no help from the code under test.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from urllib.parse import parse_qs

from aiohttp import web

from sandbox.loopback import LoopbackServer

INTERVAL_S = 5
"""How often clients re-announce: short, so a late seeder is found quickly."""

PEER_TTL_S = 900.0
"""How long a peer stays listed after its last announce. libtorrent (qBittorrent)
re-announces at most every `min_announce_interval` (300 s by default), whatever interval
the tracker asks for: a shorter TTL forgets a seeder between its announces, and a book
asked for a few minutes after seeding started would stall for want of peers."""


def bencode(value: object) -> bytes:
    """Bencode ints, bytes, str, lists and dicts (keys sorted as the spec demands)."""
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


@dataclass
class Swarm:
    """The peers of one torrent: (ip, port) → last announce time."""

    peers: dict[tuple[str, int], float] = field(default_factory=dict)

    def announce(self, peer: tuple[str, int], stopped: bool) -> None:
        """Remember (or forget) a peer."""
        if stopped:
            self.peers.pop(peer, None)
        else:
            self.peers[peer] = time.monotonic()

    def others(self, peer: tuple[str, int]) -> list[tuple[str, int]]:
        """Live peers other than `peer`."""
        horizon = time.monotonic() - PEER_TTL_S
        return [p for p, seen in self.peers.items() if p != peer and seen >= horizon]


class Tracker(LoopbackServer):
    """An HTTP tracker on 127.0.0.1; `announce_url` is what torrents should name."""

    def __init__(self) -> None:
        super().__init__()
        self._swarms: dict[bytes, Swarm] = {}
        self.announce_url = ""

    def application(self) -> web.Application:
        """BEP 3 announces at /announce."""
        app = web.Application()
        app.router.add_get("/announce", self._announce)
        return app

    async def start(self, port: int = 0) -> str:
        """Listen on a loopback port (0: an ephemeral one); return the announce URL."""
        self.announce_url = f"{await super().start(port)}/announce"
        return self.announce_url

    async def _announce(self, request: web.Request) -> web.Response:
        query = parse_qs(request.rel_url.raw_query_string, encoding="latin-1")
        try:
            info_hash = query["info_hash"][0].encode("latin-1")
            port = int(query["port"][0])
        except (KeyError, ValueError):
            return _answer({"failure reason": "info_hash and port are required"})
        if len(info_hash) != 20:
            return _answer({"failure reason": "info_hash must be 20 bytes"})
        peer = (request.remote or "127.0.0.1", port)
        swarm = self._swarms.setdefault(info_hash, Swarm())
        swarm.announce(peer, stopped=query.get("event", [""])[0] == "stopped")
        compact = b"".join(
            IPv4Address(ip).packed + p.to_bytes(2, "big") for ip, p in swarm.others(peer)
        )
        return _answer({"interval": INTERVAL_S, "min interval": 1, "peers": compact})


def _answer(document: dict[str, object]) -> web.Response:
    return web.Response(body=bencode(document), content_type="text/plain")
