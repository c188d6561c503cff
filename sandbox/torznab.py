"""A fake Torznab indexer (as Prowlarr serves one): `t=caps`, `t=search`, `t=book`, RSS
results with `torznab:attr`, real .torrent downloads, Torznab error documents.

Knobs for tests: `book_search = False` makes caps offer free-text search only;
`raw_answer` replaces every search answer with the given body (malformed documents);
`link_key_param` names the download link's key parameter (`jackett_apikey` for Jackett)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from email.utils import format_datetime
from io import BytesIO
from xml.sax.saxutils import escape, quoteattr

import torf
from aiohttp import web

from sandbox.loopback import LoopbackServer
from shared.events import utc_now


@dataclass(frozen=True)
class FakeRelease:
    """A release the fake offers."""

    id: int
    title: str
    torrent: bytes
    seeders: int
    leechers: int
    freeleech: bool
    author: str | None
    booktitle: str | None
    category: int
    size: int
    info_hash: str
    language: str | None = None
    narrators: tuple[str, ...] = ()


CAPS = """<?xml version="1.0" encoding="UTF-8"?>
<caps><server title="abauto sandbox indexer"/><limits max="100" default="100"/>
<searching><search available="yes" supportedParams="q"/>
<book-search available="{book}" supportedParams="q,title,author"/></searching>
<categories><category id="3000" name="Audio"><subcat id="3030" name="Audio/Audiobook"/>
</category></categories></caps>"""


def _error(code: int, description: str) -> web.Response:
    body = f'<?xml version="1.0"?><error code="{code}" description={quoteattr(description)}/>'
    return web.Response(text=body, content_type="application/xml")


class FakeTorznab(LoopbackServer):
    """A Torznab endpoint at `<base>/api`; downloads at `<base>/dl/<id>.torrent`."""

    def __init__(
        self, api_key: str, *, book_search: bool = True, link_key_param: str = "apikey"
    ) -> None:
        super().__init__()
        self._key = api_key
        self._link_key = link_key_param  # Prowlarr's links say `apikey`, Jackett's `jackett_apikey`
        self.book_search = book_search
        self.raw_answer: str | None = None
        self.releases: list[FakeRelease] = []
        self.requests: list[dict[str, str]] = []
        self._ids = itertools.count(1)

    def add_release(
        self,
        title: str,
        torrent: bytes,
        *,
        seeders: int = 1,
        leechers: int = 0,
        freeleech: bool = False,
        author: str | None = None,
        booktitle: str | None = None,
        category: int = 3030,
        language: str | None = None,
        narrators: tuple[str, ...] = (),
    ) -> FakeRelease:
        """Offer a release; size and info-hash come from the torrent."""
        parsed = torf.Torrent.read_stream(BytesIO(torrent))
        release = FakeRelease(
            next(self._ids), title, torrent, seeders, leechers, freeleech, author, booktitle,
            category, int(parsed.size), str(parsed.infohash).lower(), language, narrators,
        )  # fmt: skip
        self.releases.append(release)
        return release

    def application(self) -> web.Application:
        """Torznab at /api, downloads at /dl/<id>.torrent."""
        app = web.Application()
        app.router.add_get("/api", self._api)
        app.router.add_get("/dl/{id}.torrent", self._download)
        return app

    async def _api(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.requests.append({k: v for k, v in query.items() if k != "apikey"})
        if query.get("apikey") != self._key:
            return _error(100, "Invalid API Key")
        kind = query.get("t")
        if kind == "caps":
            caps = CAPS.format(book="yes" if self.book_search else "no")
            return web.Response(text=caps, content_type="application/xml")
        if kind not in ("search", "book") or (kind == "book" and not self.book_search):
            return _error(202, f"No such function ({kind})")
        if self.raw_answer is not None:
            return web.Response(text=self.raw_answer, content_type="application/rss+xml")
        return self._results(self._matching(query))

    def _matching(self, query: dict[str, str]) -> list[FakeRelease]:
        words = " ".join(query.get(k, "") for k in ("q", "title", "author")).lower().split()
        wanted = {c for c in query.get("cat", "").split(",") if c}
        return [
            r for r in self.releases
            if all(w in f"{r.title} {r.author or ''} {r.booktitle or ''}".lower() for w in words)
            and (not wanted or {str(r.category), str(r.category // 1000 * 1000)} & wanted)
        ]  # fmt: skip

    def _results(self, releases: list[FakeRelease]) -> web.Response:
        items = "".join(self._item(r) for r in releases)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:torznab="http://torznab.com/schemas/2015/feed"><channel>'
            f"<title>sandbox</title>{items}</channel></rss>"
        )
        return web.Response(text=body, content_type="application/rss+xml")

    def _item(self, release: FakeRelease) -> str:
        link = f"{self.base_url}/dl/{release.id}.torrent?{self._link_key}={self._key}"
        attrs = {
            "category": str(release.category),
            "seeders": str(release.seeders),
            "peers": str(release.seeders + release.leechers),
            "infohash": release.info_hash,
            "size": str(release.size),
            "downloadvolumefactor": "0" if release.freeleech else "1",
            "uploadvolumefactor": "1",
            **({"author": release.author} if release.author else {}),
            **({"booktitle": release.booktitle} if release.booktitle else {}),
            **({"language": release.language} if release.language else {}),
        }
        pairs = [*attrs.items(), *(("narrator", n) for n in release.narrators)]
        attributes = "".join(
            f"<torznab:attr name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in pairs
        )
        return (
            f"<item><title>{escape(release.title)}</title><guid>sandbox-{release.id}</guid>"
            f"<link>{escape(link)}</link><pubDate>{format_datetime(utc_now())}</pubDate>"
            f"<size>{release.size}</size>"
            f'<enclosure url={quoteattr(link)} length="{release.size}" '
            'type="application/x-bittorrent"/>'
            f"{attributes}</item>"
        )

    async def _download(self, request: web.Request) -> web.Response:
        if request.query.get(self._link_key) != self._key:
            return web.Response(status=401, text="bad key")
        wanted = request.match_info["id"]
        for release in self.releases:
            if str(release.id) == wanted:
                return web.Response(body=release.torrent, content_type="application/x-bittorrent")
        return web.Response(status=404, text="no such release")
