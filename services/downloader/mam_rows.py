"""MyAnonamouse search rows, read tolerantly, as releases.

A row says its numbers as numbers or as strings, its author, narrator and series lists as
JSON inside a string (possibly empty or broken), its names HTML-escaped and its size as
"1.2 GiB". A field that cannot be read is left unknown; a row without an id or a title is
skipped and counted, never a failure of the whole search.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, ValidationError

from services.downloader.release_names import FORMATS
from services.downloader.torznab import Release

NAMES_MAX = 10
TEXT_MAX = 500
UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
SIZE = re.compile(r"^\s*([\d.,]+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


def size_bytes(text: Any) -> int | None:
    """MAM's size ("1.2 GiB", "700 MiB", "512 KiB", "123456") in bytes; None if unreadable."""
    found = SIZE.match(str(text)) if isinstance(text, str | int | float) else None
    if found is None:
        return None
    try:
        number = float(found.group(1).replace(",", ""))
    except ValueError:
        return None
    return round(number * UNITS[found.group(2).lower()])


def _or_none(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def tolerant(value: Any) -> Any:
        try:
            return parse(value)
        except (TypeError, ValueError):
            return None

    return tolerant


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not a number or text: {type(value).__name__}")
    return int(value)


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("", "0", "false", "no", "none")


def _text(value: Any) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"not a number or text: {type(value).__name__}")
    return html.unescape(str(value)).strip()[:TEXT_MAX]


def _json_inside(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value.strip():
        return {}
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}


def _names(value: Any) -> tuple[str, ...]:
    """`{"123": "Name", …}` (maybe inside a string) as names, unescaped, in order."""
    found = _json_inside(value)
    if not isinstance(found, dict):
        return ()
    names = (_text(v) for v in found.values() if isinstance(v, str))
    return tuple(dict.fromkeys(n for n in names if n))[:NAMES_MAX]


def _series(value: Any) -> tuple[str, ...]:
    """`{"id": ["Series name", "#", number], …}` as series names."""
    found = _json_inside(value)
    if not isinstance(found, dict):
        return ()
    names = (_text(v[0]) for v in found.values() if isinstance(v, list) and v)
    return tuple(dict.fromkeys(n for n in names if n))[:NAMES_MAX]


def _formats(value: Any) -> tuple[str, ...]:
    words = str(value).lower().replace(",", " ").split() if isinstance(value, str) else []
    return tuple(dict.fromkeys(w for w in words if w in FORMATS))


def _added(value: Any) -> datetime:
    return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


LaxInt = Annotated[int | None, BeforeValidator(_or_none(_int))]
LaxText = Annotated[str | None, BeforeValidator(_or_none(_text))]
Flag = Annotated[bool, BeforeValidator(_flag)]
Names = Annotated[tuple[str, ...], BeforeValidator(_names)]


class MamRow(BaseModel):
    """One row of `loadSearchJSONbasic.php`'s `data`: only `id` and `title` must be
    readable, every other field falls back to unknown."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[int, BeforeValidator(_int)]
    title: Annotated[str, BeforeValidator(_text)]
    author_info: Names = ()
    narrator_info: Names = ()
    series_info: Annotated[tuple[str, ...], BeforeValidator(_series)] = ()
    filetype: Annotated[tuple[str, ...], BeforeValidator(_formats)] = ()
    size: Annotated[int | None, BeforeValidator(size_bytes)] = None
    seeders: LaxInt = None
    leechers: LaxInt = None
    category: LaxInt = None
    lang_code: LaxText = None
    language: LaxText = None
    added: Annotated[datetime | None, BeforeValidator(_or_none(_added))] = None
    free: Flag = False
    vip: Flag = False
    fl_vip: Flag = False
    personal_freeleech: Flag = False
    my_snatched: Flag = False
    dl: LaxText = None


@dataclass(frozen=True)
class ParsedRows:
    """The releases read from an answer's rows, and how many rows were unreadable."""

    releases: list[Release]
    skipped: int


def releases_of(indexer: str, base_url: str, rows: Iterable[Any]) -> ParsedRows:
    """The releases in a search answer's `data`; unreadable rows are skipped, counted."""
    releases: list[Release] = []
    skipped = 0
    for row in rows:
        try:
            parsed = MamRow.model_validate(row)
        except ValidationError:
            skipped += 1
            continue
        if not parsed.title or parsed.id <= 0:
            skipped += 1
            continue
        releases.append(release_of(indexer, base_url, parsed))
    return ParsedRows(releases, skipped)


def release_of(indexer: str, base_url: str, row: MamRow) -> Release:
    """The release a readable row describes."""
    seeders = max(row.seeders or 0, 0)
    free_for_us = row.free or row.personal_freeleech
    free = free_for_us or row.vip or row.fl_vip
    return Release(
        indexer=indexer,
        title=row.title,
        guid=torrent_page(base_url, row.id),
        download_url=SecretStr(download_link(base_url, row.id, row.dl)),
        size_bytes=row.size,
        seeders=seeders,
        peers=seeders + max(row.leechers or 0, 0),
        published=row.added,
        author=", ".join(row.author_info) or None,
        booktitle=row.title,
        download_volume_factor=0.0 if free else 1.0,
        categories=(row.category,) if row.category is not None else (),
        language=_language(row),
        narrators=row.narrator_info,
        formats=row.filetype,
        vip=row.vip or row.fl_vip,
        freeleech=free_for_us,
        snatched=row.my_snatched,
    )


def torrent_page(base_url: str, torrent_id: int) -> str:
    """The torrent's page: the release's stable guid."""
    return f"{base_url.rstrip('/')}/t/{torrent_id}"


def torrent_id_of(release: Release) -> int | None:
    """The MAM torrent id in a release's guid, if it is one of ours."""
    tail = release.guid.rstrip("/").rsplit("/t/", 1)
    return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def download_link(base_url: str, torrent_id: int, dl: str | None) -> str:
    """The .torrent's URL: by the row's `dl` hash when it has one, else by id."""
    base = base_url.rstrip("/")
    if dl and re.fullmatch(r"[\w\-]+", dl):
        return f"{base}/tor/download.php/{dl}"
    return f"{base}/tor/download.php?tid={torrent_id}"


def _language(row: MamRow) -> str | None:
    # `language` is MAM's numeric id on the real site: only a name or a code says anything.
    for value in (row.lang_code, row.language):
        if value and not value.isdigit():
            return value[:60]
    return None
