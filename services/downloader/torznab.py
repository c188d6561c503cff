"""Searching Torznab indexers (Prowlarr, Jackett) for a book's releases.

Caps-aware: `t=book&title=&author=` when the indexer lists book-search with those
parameters, `t=search&q=` otherwise. Answers are RSS 2.0 with `torznab:attr` elements,
parsed with defusedxml. Download links embed the API key: they are `SecretStr`, and
errors name the indexer, never the key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException, ElementTree
from pydantic import SecretStr

from services.downloader.release_names import split_names
from shared.faults import CredentialsRefused, is_refused
from shared.http import HttpError, HttpStatusError, PoliteHttp

logger = logging.getLogger(__name__)

TORZNAB_NS = "http://torznab.com/schemas/2015/feed"
ATTR = f"{{{TORZNAB_NS}}}attr"
CAPS_TTL_S = 24 * 3600.0
LANGUAGE_MAX = 60
NARRATORS_MAX = 10


class IndexerError(Exception):
    """The indexer answered with a Torznab error (bad key, bad parameter, …)."""

    def __init__(self, indexer: str, code: str, description: str) -> None:
        super().__init__(f"indexer {indexer}: error {code}: {description}")
        self.indexer = indexer
        self.code = code
        self.description = description


class IndexerAuthError(IndexerError, CredentialsRefused):
    """The indexer refused the API key (Torznab error 100-102, or HTTP 401/403): a
    configuration error, never a book's failure (see `shared.faults`)."""


REFUSED_CODES = frozenset({"100", "101", "102"})
"""Torznab's "incorrect user credentials", "account suspended", "insufficient rights"."""


class IndexerResponseError(IndexerError):
    """The indexer's answer is not a usable Torznab document."""

    def __init__(self, indexer: str, description: str) -> None:
        super().__init__(indexer, "malformed", description)


@dataclass(frozen=True)
class IndexerCaps:
    """What an indexer can search by: available modes with their parameters, and its
    categories (ids, subcategories included, to names)."""

    modes: Mapping[str, frozenset[str]]
    categories: Mapping[int, str] = field(default_factory=dict)

    def supports(self, mode: str, *params: str) -> bool:
        """Whether `mode` (e.g. "book-search") is available with all of `params`."""
        return mode in self.modes and set(params) <= self.modes[mode]


@dataclass(frozen=True)
class Release:
    """One search result."""

    indexer: str
    title: str
    guid: str
    download_url: SecretStr
    size_bytes: int | None
    seeders: int
    peers: int
    info_hash: str | None = None
    magnet_url: SecretStr | None = None
    published: datetime | None = None
    author: str | None = None
    booktitle: str | None = None
    download_volume_factor: float | None = None
    categories: tuple[int, ...] = ()
    language: str | None = None
    """The Newznab `language` attribute as the indexer writes it ("English", "en")."""
    narrators: tuple[str, ...] = ()
    """From a `narrator` attribute, when the indexer sends one."""
    formats: tuple[str, ...] = ()
    """The audio formats the indexer lists for the release ("m4b", "mp3"), when it does."""
    vip: bool = False
    """Free for VIP members (MyAnonamouse)."""
    freeleech: bool = False
    """Freeleech for everyone or for us personally, VIP aside (MyAnonamouse)."""
    snatched: bool = False
    """We downloaded it before (MyAnonamouse's `my_snatched`)."""

    @property
    def leechers(self) -> int:
        """Peers that are not seeders."""
        return max(self.peers - self.seeders, 0)


@dataclass(frozen=True)
class SearchOutcome:
    """Releases from every indexer that answered, and the ones that failed."""

    releases: list[Release]
    failures: list[tuple[str, Exception]] = field(default_factory=list)


class TorznabIndexer:
    """One Torznab endpoint."""

    def __init__(
        self,
        name: str,
        url: str,
        api_key: SecretStr,
        http: PoliteHttp,
        categories: Sequence[int] = (3030,),
    ) -> None:
        self.name = name
        self._url = url
        self._key = api_key
        self._http = http
        self._categories = ",".join(str(c) for c in categories)
        self._caps: tuple[float, IndexerCaps] | None = None
        self._caps_lock = asyncio.Lock()

    async def caps(self) -> IndexerCaps:
        """The indexer's search capabilities, asked once a day at most."""
        async with self._caps_lock:  # concurrent searches share one caps request
            if self._caps is None or self._caps[0] < time.monotonic():
                caps = _caps(await self._get({"t": "caps"}), self.name)
                self._caps = (time.monotonic() + CAPS_TTL_S, caps)
            return self._caps[1]

    async def search(self, title: str, author: str | None) -> list[Release]:
        """Releases matching the book; [] when there are none."""
        caps = await self.caps()
        query = {"t": "search", "q": f"{title} {author or ''}".strip(), "cat": self._categories}
        if caps.supports("book-search", "title"):
            query = {"t": "book", "title": title, "cat": self._categories}
            if author and caps.supports("book-search", "author"):
                query["author"] = author
        channel = (await self._get(query)).find("channel")
        if channel is None:
            raise IndexerResponseError(self.name, "an RSS document without <channel>")
        return [r for item in channel.iter("item") if (r := self._release(item)) is not None]

    async def fetch_torrent(self, release: Release) -> bytes:
        """The release's .torrent file (`HttpError` when it cannot be had)."""
        try:
            return await self._http.get_bytes(release.download_url.get_secret_value())
        except HttpError as error:
            raise self._scrubbed(error) from None

    async def _get(self, query: dict[str, str]) -> Element:
        try:
            body = await self._http.get_bytes(
                self._url, params={**query, "apikey": self._key.get_secret_value()}
            )
        except HttpStatusError as error:
            if error.status in (401, 403):
                raise IndexerAuthError(self.name, str(error.status), "API key refused") from None
            raise self._scrubbed(error) from None
        except HttpError as error:
            raise self._scrubbed(error) from None
        try:
            root: Element = ElementTree.fromstring(body)
        except (ElementTree.ParseError, DefusedXmlException) as error:
            raise IndexerResponseError(self.name, f"not usable XML: {error}") from None
        if root.tag == "error":
            description = self._scrub(root.get("description", ""))
            code = root.get("code", "?")
            kind = IndexerAuthError if code in REFUSED_CODES else IndexerError
            raise kind(self.name, code, description)
        return root

    def _scrubbed(self, error: HttpError) -> HttpError:
        # PoliteHttp redacts `apikey=`, but links may carry the key under other names
        # (Jackett's `jackett_apikey=`) or in the path: take it out wherever it is.
        if isinstance(error, HttpStatusError):  # its type kept: HttpBusyError is transient
            return type(error)(error.status, self._scrub(error.url), self._scrub(error.body))
        return type(error)(self._scrub(str(error)))

    def _scrub(self, text: str) -> str:
        key = self._key.get_secret_value()
        return text.replace(key, "***") if key else text

    def _release(self, item: Element) -> Release | None:
        attrs: defaultdict[str, list[str]] = defaultdict(list)
        for attr in item.iter(ATTR):
            attrs[attr.get("name", "")].append(attr.get("value", ""))
        title = (item.findtext("title") or "").strip()
        link = _link(item)
        if not title or not link:
            logger.warning(
                "indexer %s: skipped item %r without a title or a link",
                self.name,
                title or item.findtext("guid"),
                extra={"event": "indexer.item_skipped", "indexer": self.name},
            )
            return None
        seeders = _int(_first(attrs, "seeders")) or 0
        return Release(
            indexer=self.name,
            title=title,
            guid=item.findtext("guid") or link,
            download_url=SecretStr(link),
            size_bytes=_size(item, attrs),
            seeders=seeders,
            peers=_int(_first(attrs, "peers")) or seeders,
            info_hash=(_first(attrs, "infohash") or "").strip().lower() or None,
            magnet_url=SecretStr(m) if (m := _first(attrs, "magneturl")) else None,
            published=_date(item.findtext("pubDate")),
            author=_first(attrs, "author") or None,
            booktitle=_first(attrs, "booktitle") or None,
            download_volume_factor=_float(_first(attrs, "downloadvolumefactor")),
            categories=_categories(item, attrs),
            language=(_first(attrs, "language") or "").strip()[:LANGUAGE_MAX] or None,
            narrators=_narrators(attrs),
        )


class Indexer(Protocol):
    """What `Indexers` asks of one indexer, whatever it speaks."""

    name: str

    async def search(self, title: str, author: str | None) -> list[Release]:
        """Releases matching the book; [] when there are none."""

    async def fetch_torrent(self, release: Release) -> bytes:
        """The release's .torrent file."""


class Indexers:
    """Every configured indexer, searched together."""

    def __init__(
        self,
        indexers: Sequence[Indexer],
        on_refused: Callable[[str, Exception], Awaitable[None]] | None = None,
    ) -> None:
        self._indexers = {i.name: i for i in indexers}
        self._on_refused = on_refused
        self._refused: dict[str, Exception] = {}

    async def search_all(self, title: str, author: str | None) -> SearchOutcome:
        """Search every indexer at once; a failing one does not hide the others.

        An indexer that refused our credentials (a bad API key, a dead MyAnonamouse
        cookie) is not asked again by this process — a private tracker bans an address
        that keeps trying — and is reported once (`on_refused`); a restart with new
        credentials asks it again."""
        asked = {n: i for n, i in self._indexers.items() if n not in self._refused}
        answers = await asyncio.gather(
            *(i.search(title, author) for i in asked.values()), return_exceptions=True
        )
        outcome = SearchOutcome([], [(n, e) for n, e in self._refused.items()])
        for name, answer in zip(asked, answers, strict=True):
            if isinstance(answer, IndexerError | HttpError) and is_refused(answer):
                logger.error(
                    "indexer %s refused our credentials: %s",
                    name,
                    answer,
                    extra={"event": "indexer.refused", "indexer": name},
                )
                self._refused[name] = answer
                outcome.failures.append((name, answer))
                if self._on_refused is not None:
                    await self._on_refused(name, answer)
            elif isinstance(answer, IndexerError | HttpError):
                logger.warning(
                    "indexer %s failed: %s",
                    name,
                    answer,
                    extra={"event": "indexer.failed", "indexer": name},
                )
                outcome.failures.append((name, answer))
            elif isinstance(answer, BaseException):
                raise answer  # a bug, or cancellation: not an indexer's failure
            else:
                outcome.releases.extend(answer)
        return outcome

    async def fetch_torrent(self, release: Release) -> bytes:
        """The release's .torrent, from the indexer that offered it."""
        return await self._indexers[release.indexer].fetch_torrent(release)

    def named(self, name: str) -> Indexer | None:
        """The indexer called `name`, if configured."""
        return self._indexers.get(name)

    def keeps_unfinished(self, name: str) -> bool:
        """Whether a download from indexer `name` that failed must stay in qBittorrent
        (a private tracker that counts a started download as owing its seeding time)."""
        return bool(getattr(self._indexers.get(name), "keeps_unfinished", False))

    def fetched_with(self, release: Release) -> dict[str, str]:
        """What the indexer did when fetching the release (a wedge spent…), for the record."""
        notes = getattr(self._indexers.get(release.indexer), "fetch_notes", None)
        return dict(notes.get(release.guid, {})) if isinstance(notes, dict) else {}


def _caps(root: Element, indexer: str) -> IndexerCaps:
    searching = root.find("searching")
    if root.tag != "caps" or searching is None:
        raise IndexerResponseError(indexer, "caps without <searching>")
    modes = {
        mode.tag: frozenset(p.strip() for p in mode.get("supportedParams", "q").split(",") if p)
        for mode in searching
        if mode.get("available") == "yes"
    }
    categories = {
        c: element.get("name", "")
        for element in root.iter()
        if element.tag in ("category", "subcat") and (c := _int(element.get("id"))) is not None
    }
    return IndexerCaps(modes, categories)


def _first(attrs: Mapping[str, list[str]], name: str) -> str | None:
    values = attrs.get(name)
    return values[0] if values else None


def _narrators(attrs: Mapping[str, list[str]]) -> tuple[str, ...]:
    # One attribute per narrator, or one listing them ("A & B", "Kramer, Michael; Reading, Kate").
    names = (n for value in attrs.get("narrator", []) for n in split_names(value))
    return tuple(dict.fromkeys(names))[:NARRATORS_MAX]


def _link(item: Element) -> str:
    enclosure = item.find("enclosure")
    link = enclosure.get("url") if enclosure is not None else None
    return (link or item.findtext("link") or "").strip()


def _size(item: Element, attrs: Mapping[str, list[str]]) -> int | None:
    enclosure = item.find("enclosure")
    candidates = (
        item.findtext("size"),
        _first(attrs, "size"),
        enclosure.get("length") if enclosure is not None else None,
    )
    return next((s for s in map(_int, candidates) if s), None)


def _categories(item: Element, attrs: Mapping[str, list[str]]) -> tuple[int, ...]:
    texts = [*attrs.get("category", []), *(c.text for c in item.findall("category"))]
    return tuple(dict.fromkeys(c for c in map(_int, texts) if c is not None))


def _int(text: Any) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def _float(text: Any) -> float | None:
    try:
        return float(str(text).strip())
    except (TypeError, ValueError):
        return None


def _date(text: str | None) -> datetime | None:
    try:
        return parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError):
        return None
