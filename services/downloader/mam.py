"""Searching MyAnonamouse through its JSON search API, with the session cookie.

`POST /tor/js/loadSearchJSONbasic.php` with a raw JSON body (audiobooks, category 13,
searched in title, author, narrator and series); `{"error": "Nothing returned…"}` is no
hits. Downloads are `GET /tor/download.php/<dl>` (or `?tid=<id>`). Every answer may
rotate the `mam_id` cookie (`mam_cookie`). A dead cookie shows as 401/403 or as an HTML
page where JSON or a .torrent was expected: `MamCookieRefusedError`, a refusal of our
credentials (see `shared.faults`), never a book's failure.

Spacing between requests and 429 back-off are `PoliteHttp`'s per-host rate limit and
`Retry-After` handling (`mam_http_settings`).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal

import orjson

from services.downloader.mam_cookie import MamCookie
from services.downloader.mam_economy import (
    WedgeLedger,
    WedgePolicy,
    ratio_guarded,
    wedge_decision,
)
from services.downloader.mam_rows import releases_of, torrent_id_of
from services.downloader.torznab import (
    IndexerAuthError,
    IndexerError,
    IndexerResponseError,
    Release,
)
from shared.events import utc_now
from shared.http import HttpError, HttpSettings, HttpStatusError, PoliteHttp, Reply

logger = logging.getLogger(__name__)

SEARCH_PATH = "/tor/js/loadSearchJSONbasic.php"
WEDGE_PATH = "/json/bonusBuy.php/"
AUDIOBOOKS = 13
PER_PAGE = 100
NOTHING_RETURNED = "Nothing returned"
DOWNLOAD_HASH = re.compile(r"(/tor/download\.php/)[^\s?:/]+")
SearchType = Literal["all", "active", "fl", "fl-VIP", "VIP", "nVIP"]


class MamCookieRefusedError(IndexerAuthError):
    """MyAnonamouse refused the `mam_id` cookie (expired, or not for this IP)."""

    def __init__(self, indexer: str, seen: str) -> None:
        super().__init__(
            indexer,
            "cookie",
            f"the mam_id cookie is refused ({seen}): configure a fresh one",
        )


def mam_http_settings(search_interval_s: float) -> HttpSettings:
    """Politeness towards MAM's host: one request per `search_interval_s`, one at a time."""
    return HttpSettings(rate_per_second=1 / search_interval_s, max_concurrency=1)


def search_body(text: str, search_type: SearchType) -> dict[str, Any]:
    """The JSON body of an audiobook search (`dlLink` present: rows carry `dl`)."""
    return {
        "tor": {
            "text": text,
            "srchIn": ["title", "author", "narrator", "series"],
            "searchType": search_type,
            "searchIn": "torrents",
            "main_cat": [AUDIOBOOKS],
            "sortType": "default",
            "startNumber": "0",
        },
        "perpage": PER_PAGE,
        "dlLink": "",
    }


class MamIndexer:
    """MyAnonamouse, as one indexer among the others."""

    keeps_unfinished = True
    """A download started on MAM counts as "unsatisfied" until it has seeded its time:
    one that stalls is left in qBittorrent (blocklisted for the book), not removed."""

    def __init__(
        self,
        name: str,
        url: str,
        cookie: MamCookie,
        http: PoliteHttp,
        *,
        search_type: SearchType = "all",
        ratio_guard: bool = False,
        wedges: WedgePolicy | None = None,
    ) -> None:
        self.name = name
        self._url = url.rstrip("/")
        self._cookie = cookie
        self._http = http
        self._search_type: SearchType = search_type
        self._ratio_guard = ratio_guard
        self._wedges = wedges or WedgePolicy()
        self._ledger = WedgeLedger()
        self.fetch_notes: dict[str, dict[str, str]] = {}
        """By release guid: what fetching it involved (a wedge), for the download's record."""

    async def search(self, title: str, author: str | None) -> list[Release]:
        """Releases matching the book; [] when there are none."""
        text = f"{title} {author or ''}".strip()
        reply = await self._send(
            "POST", self._url + SEARCH_PATH, search_body(text, self._search_type)
        )
        answer = self._json(reply.body)
        if "error" in answer:
            if str(answer["error"]).startswith(NOTHING_RETURNED):
                return []
            raise IndexerError(self.name, "error", str(answer["error"])[:200])
        rows = answer.get("data")
        if not isinstance(rows, list):
            raise IndexerResponseError(self.name, "a search answer without a data list")
        parsed = releases_of(self.name, self._url, rows)
        if parsed.skipped:
            logger.warning(
                "indexer %s: skipped %d unreadable rows of %d",
                self.name,
                parsed.skipped,
                len(rows),
                extra={
                    "event": "indexer.item_skipped",
                    "indexer": self.name,
                    "skipped": parsed.skipped,
                },
            )
        return ratio_guarded(parsed.releases, self._ratio_guard)

    async def fetch_torrent(self, release: Release) -> bytes:
        """The release's .torrent file, after spending a wedge on it if the policy says so."""
        await self._wedge_if_worth_it(release)
        reply = await self._send("GET", release.download_url.get_secret_value())
        if _looks_like_html(reply.body):
            raise MamCookieRefusedError(self.name, "an HTML page instead of the .torrent")
        if not reply.body.startswith(b"d"):  # a bencoded dictionary, or not a .torrent
            # An HttpError, as for any failed download: the attempt records TORRENT_FETCH_FAILED.
            raise HttpError(f"indexer {self.name}: the download is not a .torrent file")
        return reply.body

    async def spend_wedge(self, torrent_id: int) -> bool:
        """Buy personal freeleech for one torrent with a wedge; whether the site agreed.

        The endpoint is what public MAM clients call; some report the site refusing it
        through the API, so a refusal is logged and the fetch goes on without it."""
        url = f"{self._url}{WEDGE_PATH}?spendtype=personalFL&torrentid={torrent_id}"
        try:
            answer = self._json((await self._send("GET", url)).body)
        except (IndexerResponseError, HttpError) as error:
            logger.warning(
                "indexer %s: wedge for torrent %d failed: %s",
                self.name,
                torrent_id,
                error,
                extra={"event": "indexer.wedge_failed", "indexer": self.name},
            )
            return False
        return answer.get("success") is True

    async def _wedge_if_worth_it(self, release: Release) -> None:
        today = utc_now().date()
        decision = wedge_decision(release, self._wedges, self._ledger.today(today))
        torrent_id = torrent_id_of(release)
        if not decision.spend or torrent_id is None:
            return
        spent = await self.spend_wedge(torrent_id)
        if spent:
            self._ledger.note(today)
        self.fetch_notes[release.guid] = {
            "wedge": "spent" if spent else "refused by the site",
            "wedge_reason": decision.reason[:200],
        }
        logger.info(
            "indexer %s: freeleech wedge for %s %s (%s; %d of %d today)",
            self.name,
            release.guid,
            "spent" if spent else "refused by the site",
            decision.reason,
            self._ledger.today(today),
            self._wedges.per_day,
            extra={
                "event": "indexer.wedge",
                "indexer": self.name,
                "spent": spent,
                "release": release.title,
            },
        )

    async def ask_json(self, url: str) -> dict[str, Any]:
        """GET one of the site's JSON endpoints with the session cookie (a dead cookie:
        `MamCookieRefusedError`)."""
        return self._json((await self._send("GET", url)).body)

    async def _send(self, method: str, url: str, payload: Any = None) -> Reply:
        try:
            reply = await self._http.exchange(
                method, url, headers=self._cookie.header, payload=payload
            )
        except HttpStatusError as error:
            if error.status in (401, 403):
                raise MamCookieRefusedError(self.name, f"HTTP {error.status}") from None
            raise self._scrubbed(error) from None
        except HttpError as error:
            raise self._scrubbed(error) from None
        self._cookie.received(reply.cookies)
        return reply

    def _json(self, body: bytes) -> dict[str, Any]:
        if _looks_like_html(body):
            raise MamCookieRefusedError(self.name, "an HTML page instead of JSON")
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise IndexerResponseError(self.name, f"not JSON: {body[:80]!r}") from None
        if not isinstance(answer, dict):
            raise IndexerResponseError(self.name, "a JSON answer that is not an object")
        return answer

    def _scrubbed(self, error: HttpError) -> HttpError:
        # Download links carry a per-user hash in their path: keep it out of messages.
        def scrub(text: str) -> str:
            return DOWNLOAD_HASH.sub(r"\1***", text)

        if isinstance(error, HttpStatusError):  # its type kept: HttpBusyError is transient
            return type(error)(error.status, scrub(error.url), error.body)
        return type(error)(scrub(str(error)))


def _looks_like_html(body: bytes) -> bool:
    start = body.lstrip()[:15].lower()
    return start.startswith((b"<!doctype", b"<html", b"<"))
