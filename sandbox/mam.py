"""A fake MyAnonamouse: the JSON search API with the real site's shapes (numbers as
strings, name lists as JSON inside strings, HTML-escaped names, `{"error": "Nothing
returned, out of 0"}` for no hits), the `mam_id` cookie it rotates, real .torrent
downloads and the freeleech wedge purchase.

Knobs for tests: `rotate_every` (every n-th answer sets a new cookie; the old one keeps
working `grace_s` seconds, then gets 403), `expire("403" | "html")` (the cookie dies: a
403, or the login page where JSON was expected), `busy` (that many searches answer 429
with `Retry-After: retry_after`). `search_times` records when each search arrived."""

from __future__ import annotations

import html
import itertools
import secrets
import time
from dataclasses import dataclass, replace
from io import BytesIO
from typing import Any, Literal

import orjson
import torf
from aiohttp import web

from sandbox.loopback import LoopbackServer

SEARCH_PATH = "/tor/js/loadSearchJSONbasic.php"
SEEDBOX_PATH = "/json/dynamicSeedbox.php"
"""The dynamic-seedbox API (on the site's `t.` host in real life; here, on this one)."""
SEEDBOX_LIMIT_S = 3600.0
LOGIN_PAGE = "<!DOCTYPE html><html><head><title>Login | MyAnonamouse</title></head></html>"
NOTHING = {"error": "Nothing returned, out of 0"}


@dataclass(frozen=True)
class FakeMamTorrent:
    """A torrent the fake offers."""

    id: int
    title: str
    torrent: bytes
    size: int
    author: str
    narrators: tuple[str, ...]
    series: str | None
    filetype: str
    seeders: int
    leechers: int
    free: bool
    vip: bool
    personal_freeleech: bool
    lang_code: str
    dl: str


class FakeMam(LoopbackServer):
    """The site at `base_url`: search, downloads, wedges; the cookie named `mam_id`."""

    def __init__(self, mam_id: str, *, rotate_every: int = 0, grace_s: float = 60.0) -> None:
        super().__init__()
        self._cookies: dict[str, float | None] = {mam_id: None}  # value -> dies at (monotonic)
        self.newest_cookie = mam_id
        self.seedbox_calls: list[float] = []
        self._seedbox_changed: float | None = None
        self.rotate_every = rotate_every
        self.grace_s = grace_s
        self.expired: Literal["403", "html"] | None = None
        self.busy = 0
        self.retry_after = "1"
        self.torrents: list[FakeMamTorrent] = []
        self.search_times: list[float] = []
        self.search_bodies: list[Any] = []
        self.wedges: list[int] = []
        self._answered = 0
        self._ids = itertools.count(1001)

    def add_release(
        self,
        title: str,
        torrent: bytes,
        *,
        author: str,
        narrators: tuple[str, ...] = (),
        series: str | None = None,
        filetype: str = "m4b",
        seeders: int = 5,
        leechers: int = 1,
        free: bool = False,
        vip: bool = False,
        lang_code: str = "ENG",
    ) -> FakeMamTorrent:
        """Offer a torrent; its size comes from the torrent file."""
        size = int(torf.Torrent.read_stream(BytesIO(torrent)).size)
        offered = FakeMamTorrent(
            next(self._ids), title, torrent, size, author, narrators, series, filetype,
            seeders, leechers, free, vip, False, lang_code, secrets.token_hex(8),
        )  # fmt: skip
        self.torrents.append(offered)
        return offered

    def expire(self, how: Literal["403", "html"] = "403") -> None:
        """Every cookie dies, as when the session ends or the IP no longer matches."""
        self.expired = how

    def new_session(self) -> str:
        """A fresh cookie, as the operator makes one in the site's preferences."""
        self.expired = None
        self.newest_cookie = secrets.token_urlsafe(24)
        self._cookies = {self.newest_cookie: None}
        return self.newest_cookie

    def application(self) -> web.Application:
        """The search, downloads by `dl` or `tid`, and the wedge purchase."""
        app = web.Application()
        app.router.add_post(SEARCH_PATH, self._search)
        app.router.add_get("/tor/download.php", self._download)
        app.router.add_get("/tor/download.php/{dl}", self._download)
        app.router.add_get("/json/bonusBuy.php/", self._wedge)
        app.router.add_get(SEEDBOX_PATH, self._seedbox)
        return app

    async def _search(self, request: web.Request) -> web.StreamResponse:
        self.search_times.append(time.monotonic())
        if self.busy > 0:
            self.busy -= 1
            return web.Response(status=429, headers={"Retry-After": self.retry_after})
        refused = self._refusal(request)
        if refused is not None:
            return refused
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self._answer(web.Response(text=""))  # the real site, to a form POST
        self.search_bodies.append(body)
        found = self._matching(body.get("tor", {}))
        if not found:
            return self._answer(web.json_response(NOTHING))
        rows = [_row(t, with_dl="dlLink" in body) for t in found]
        answer = {"perpage": 100, "start": 0, "data": rows, "total": len(rows), "found": len(rows)}
        return self._answer(web.json_response(answer))

    def _matching(self, tor: dict[str, Any]) -> list[FakeMamTorrent]:
        words = str(tor.get("text", "")).lower().split()
        free_only = tor.get("searchType") in ("fl", "fl-VIP")
        return [
            t for t in self.torrents
            if all(w in f"{t.title} {t.author} {' '.join(t.narrators)} {t.series}".lower()
                   for w in words)
            and (not free_only or t.free or t.vip or t.personal_freeleech)
        ]  # fmt: skip

    async def _download(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        wanted = request.match_info.get("dl") or request.query.get("tid", "")
        for offered in self.torrents:
            if wanted in (offered.dl, str(offered.id)):
                answer = web.Response(body=offered.torrent, content_type="application/x-bittorrent")
                return self._answer(answer)
        return web.Response(status=404, text="no such torrent")

    async def _wedge(self, request: web.Request) -> web.StreamResponse:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        wanted = request.query.get("torrentid", "")
        for index, offered in enumerate(self.torrents):
            if request.query.get("spendtype") == "personalFL" and str(offered.id) == wanted:
                self.torrents[index] = replace(offered, personal_freeleech=True)
                self.wedges.append(offered.id)
                return self._answer(web.json_response({"success": True, "type": "personalFL"}))
        return web.json_response({"success": False, "error": "Invalid torrent"})

    async def _seedbox(self, request: web.Request) -> web.StreamResponse:
        """Move the session to the caller's address: once an hour, else 429."""
        refused = self._refusal(request)
        if refused is not None:
            return refused
        now = time.monotonic()
        self.seedbox_calls.append(now)
        if self._seedbox_changed is not None and now - self._seedbox_changed < SEEDBOX_LIMIT_S:
            return web.json_response(
                {"Success": False, "msg": "Last change too recent"}, status=429
            )
        self._seedbox_changed = now
        return self._answer(web.json_response({"Success": True, "msg": "Completed"}))

    def _refusal(self, request: web.Request) -> web.StreamResponse | None:
        cookie = request.cookies.get("mam_id", "")
        dies_at = self._cookies.get(cookie, 0.0)
        alive = cookie in self._cookies and (dies_at is None or time.monotonic() < dies_at)
        if self.expired == "html":
            return web.Response(text=LOGIN_PAGE, content_type="text/html")
        if self.expired == "403" or not alive:
            return web.Response(status=403, text="Forbidden")
        return None

    def _answer(self, response: web.Response) -> web.Response:
        """Count an answer; every `rotate_every`-th one carries a new cookie."""
        self._answered += 1
        if self.rotate_every and self._answered % self.rotate_every == 0:
            dies_at = time.monotonic() + self.grace_s
            self._cookies = {c: dies_at if d is None else d for c, d in self._cookies.items()}
            self.newest_cookie = secrets.token_urlsafe(24)
            self._cookies[self.newest_cookie] = None
            response.set_cookie("mam_id", self.newest_cookie, httponly=True)
        return response


def _row(offered: FakeMamTorrent, *, with_dl: bool) -> dict[str, Any]:
    """A result row as the site writes it: strings for numbers, JSON inside strings."""
    escape = html.escape
    narrators = {str(i + 1): escape(n) for i, n in enumerate(offered.narrators)}
    series = {"77": [escape(offered.series), "#", "1"]} if offered.series else {}
    return {
        "id": str(offered.id),
        "title": escape(offered.title),
        "author_info": orjson.dumps({"12": escape(offered.author)}).decode(),
        "narrator_info": orjson.dumps(narrators).decode(),
        "series_info": orjson.dumps(series).decode() if series else "",
        "filetype": offered.filetype,
        "size": _size(offered.size),
        "seeders": str(offered.seeders),
        "leechers": offered.leechers,
        "times_completed": "3",
        "numfiles": "1",
        "lang_code": offered.lang_code,
        "language": "1",
        "category": "39",
        "catname": "Audiobooks - Fantasy",
        "main_cat": "13",
        "added": "2024-03-01 10:20:30",
        "free": "1" if offered.free else "0",
        "vip": 1 if offered.vip else 0,
        "fl_vip": "0",
        "personal_freeleech": "1" if offered.personal_freeleech else "0",
        "my_snatched": "0",
        **({"dl": offered.dl} if with_dl else {}),
    }


def _size(size: int) -> str:
    """A size as the site shows it: "1.2 GiB", "700.0 MiB", "29.3 KiB"."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
