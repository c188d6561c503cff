"""Searching Torznab indexers (Prowlarr, Jackett) for a book's releases.

Caps-aware: `t=book&title=&author=` when the indexer lists book-search with those
parameters, `t=search&q=` otherwise. Answers are RSS 2.0 with `torznab:attr` elements,
parsed with defusedxml. Download links embed the API key: they are `SecretStr`, and
errors name the indexer, never the link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from pydantic import SecretStr

from shared.http import HttpError, PoliteHttp

logger = logging.getLogger(__name__)

TORZNAB_NS = "http://torznab.com/schemas/2015/feed"
ATTR = f"{{{TORZNAB_NS}}}attr"
CAPS_TTL_S = 24 * 3600.0


class IndexerError(Exception):
    """The indexer answered with a Torznab error (bad key, bad parameter, …)."""

    def __init__(self, indexer: str, code: str, description: str) -> None:
        super().__init__(f"indexer {indexer}: error {code}: {description}")
        self.code = code


class IndexerResponseError(IndexerError):
    """The indexer's answer is not a usable Torznab document."""

    def __init__(self, indexer: str, description: str) -> None:
        super().__init__(indexer, "malformed", description)


@dataclass(frozen=True)
class IndexerCaps:
    """What an indexer can search by."""

    search_params: frozenset[str]
    book_search_params: frozenset[str]

    def book_search(self) -> bool:
        """Whether `t=book` with a title is available."""
        return "title" in self.book_search_params


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

    async def caps(self) -> IndexerCaps:
        """The indexer's search capabilities (cached for a day)."""
        root = await self._get({"t": "caps"}, cache_ttl=CAPS_TTL_S)
        searching = root.find("searching")
        if searching is None:
            raise IndexerResponseError(self.name, "caps without <searching>")
        return IndexerCaps(_params(searching, "search"), _params(searching, "book-search"))

    async def search(self, title: str, author: str | None) -> list[Release]:
        """Releases matching the book; [] when there are none."""
        caps = await self.caps()
        if caps.book_search():
            query = {"t": "book", "title": title, "cat": self._categories}
            if author and "author" in caps.book_search_params:
                query["author"] = author
        else:
            query = {"t": "search", "q": f"{title} {author or ''}".strip(), "cat": self._categories}
        channel = (await self._get(query)).find("channel")
        if channel is None:
            raise IndexerResponseError(self.name, "an RSS document without <channel>")
        return [r for item in channel.iter("item") if (r := self._release(item)) is not None]

    async def fetch_torrent(self, release: Release) -> bytes:
        """The release's .torrent file."""
        return await self._http.get_bytes(release.download_url.get_secret_value())

    async def _get(self, query: dict[str, str], cache_ttl: float | None = None) -> Element:
        body = await self._http.get_bytes(
            self._url, params={**query, "apikey": self._key.get_secret_value()}, cache_ttl=cache_ttl
        )
        try:
            root: Element = ElementTree.fromstring(body)
        except ElementTree.ParseError as error:
            raise IndexerResponseError(self.name, f"not XML: {error}") from None
        if root.tag == "error":
            raise IndexerError(self.name, root.get("code", "?"), root.get("description", ""))
        return root

    def _release(self, item: Element) -> Release | None:
        attrs = {a.get("name", ""): a.get("value", "") for a in item.iter(ATTR)}
        title = (item.findtext("title") or "").strip()
        enclosure = item.find("enclosure")
        link = (enclosure.get("url") if enclosure is not None else None) or item.findtext("link")
        if not title or not link:
            logger.warning("indexer %s: skipped an item without a title or a link", self.name)
            return None
        size = _int(item.findtext("size")) or _int(attrs.get("size"))
        if size is None and enclosure is not None:
            size = _int(enclosure.get("length"))
        seeders = _int(attrs.get("seeders")) or 0
        return Release(
            indexer=self.name,
            title=title,
            guid=item.findtext("guid") or link,
            download_url=SecretStr(link.strip()),
            size_bytes=size,
            seeders=seeders,
            peers=_int(attrs.get("peers")) or seeders,
            info_hash=(attrs.get("infohash") or "").lower() or None,
            magnet_url=SecretStr(attrs["magneturl"]) if attrs.get("magneturl") else None,
            published=_date(item.findtext("pubDate")),
            author=attrs.get("author") or None,
            booktitle=attrs.get("booktitle") or None,
            download_volume_factor=_float(attrs.get("downloadvolumefactor")),
            categories=tuple(c for c in (_int(x.get("value")) for x in item.iter(ATTR)
                                         if x.get("name") == "category") if c is not None),
        )  # fmt: skip


class Indexers:
    """Every configured indexer, searched together."""

    def __init__(self, indexers: Sequence[TorznabIndexer]) -> None:
        self._indexers = {i.name: i for i in indexers}

    async def search_all(self, title: str, author: str | None) -> SearchOutcome:
        """Search every indexer at once; a failing one does not hide the others."""
        answers = await asyncio.gather(
            *(i.search(title, author) for i in self._indexers.values()), return_exceptions=True
        )
        outcome = SearchOutcome([])
        for name, answer in zip(self._indexers, answers, strict=True):
            if isinstance(answer, IndexerError | HttpError):
                logger.warning("indexer %s failed: %s", name, answer)
                outcome.failures.append((name, answer))
            elif isinstance(answer, BaseException):
                raise answer
            else:
                outcome.releases.extend(answer)
        return outcome

    async def fetch_torrent(self, release: Release) -> bytes:
        """The release's .torrent, from the indexer that offered it."""
        return await self._indexers[release.indexer].fetch_torrent(release)


def _params(searching: Element, mode: str) -> frozenset[str]:
    element = searching.find(mode)
    if element is None or element.get("available") != "yes":
        return frozenset()
    return frozenset(p.strip() for p in element.get("supportedParams", "q").split(",") if p)


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
