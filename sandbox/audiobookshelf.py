"""A fake Audiobookshelf server: the endpoints abauto uses, API-key auth, the short list
form and the expanded form, and a scan that really walks its library folder the way the
real server's `scandir` does (see ../shared/reference/audiobookshelf-api.md).

As in a real book library, a folder with an ebook file and no audio is an item too: its
`media` has no `audioFiles` and an `ebookFile` (short form: `numAudioFiles` 0 and an
`ebookFormat`), the shapes of the server's `Book.toOldJSONMinified`/`…Expanded`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.loopback import LoopbackServer

AUDIO = frozenset({".m4b", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma"})
EBOOK = frozenset({".epub", ".pdf", ".mobi", ".azw3", ".cbr", ".cbz"})
DISC = re.compile(r"^(cd|disc|disk)\s*\d+$", re.IGNORECASE)
ASIN = re.compile(r"\s*\[(B0[0-9A-Z]{8})\]\s*")
NARRATOR = re.compile(r"\s*\{([^}]*)\}\s*$")
YEAR = re.compile(r"^\(?(\d{4})\)?\s+-\s+")
SEQUENCE = re.compile(
    r"^(?:(?:book|vol\.?|volume)\s*(\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?)\s*[.:-]?\s+"
    r"|(\d+(?:\.\d+)?)\s*(?:\.|-)\s+)(.+)$",
    re.IGNORECASE,
)


@dataclass
class BookFiles:
    """The media files of one book folder: its audio files and its (first) ebook file."""

    audio: list[tuple[str, int]] = field(default_factory=list)
    ebook: tuple[str, int] | None = None


@dataclass
class FakeItem:
    """A library item the fake knows."""

    id: str
    rel_path: str
    title: str
    authors: list[str]
    series: list[tuple[str, str | None]]
    narrators: list[str] = field(default_factory=list)
    asin: str | None = None
    isbn: str | None = None
    subtitle: str | None = None
    published_year: str | None = None
    publisher: str | None = None
    description: str | None = None
    audio: list[tuple[str, int]] = field(default_factory=list)
    ebook: tuple[str, int] | None = None  # (file name, size): an item's one ebook file
    added_at: int = 0
    updated_at: int = 0
    is_missing: bool = False


def parse_folder(rel_path: str) -> dict[str, Any]:
    """What Audiobookshelf reads from a book folder's path (the last three folders)."""
    parts = rel_path.split("/")[-3:]
    author = parts[0] if len(parts) >= 2 else None
    series = parts[1] if len(parts) == 3 else None
    title = parts[-1]
    facts: dict[str, Any] = {"authors": [author] if author else [], "series": []}
    if found := ASIN.search(title):
        facts["asin"] = found.group(1)
        title = ASIN.sub(" ", title).strip()
    if found := NARRATOR.search(title):
        facts["narrators"] = [n.strip() for n in found.group(1).split(",") if n.strip()]
        title = NARRATOR.sub("", title).strip()
    sequence = None
    if series and (found := SEQUENCE.match(title)):
        sequence = found.group(1) or found.group(2)
        title = found.group(3).strip()
    if found := YEAR.match(title):
        facts["published_year"] = found.group(1)
        title = title[found.end() :].strip()
    if series:
        facts["series"] = [(series, sequence)]
    facts["title"] = title
    return facts


def _sidecar(folder: Path) -> dict[str, Any]:
    path = folder / "metadata.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    facts: dict[str, Any] = {}
    for key in ("title", "subtitle", "asin", "isbn", "publisher", "description"):
        if data.get(key):
            facts[key] = data[key]
    if data.get("publishedYear"):
        facts["published_year"] = str(data["publishedYear"])
    if data.get("authors"):
        facts["authors"] = list(data["authors"])
    if data.get("narrators"):
        facts["narrators"] = list(data["narrators"])
    if data.get("series"):
        facts["series"] = [_series_text(s) for s in data["series"]]
    return facts


def _series_text(text: str) -> tuple[str, str | None]:
    name, sep, sequence = text.rpartition(" #")
    return (name, sequence) if sep else (text, None)


class FakeAudiobookshelf(LoopbackServer):
    """One book library rooted at `library_root`, served on 127.0.0.1."""

    def __init__(self, library_root: Path, api_key: str, library_name: str = "Audiobooks") -> None:
        super().__init__()
        self.root = library_root
        self._key = api_key
        self.library_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"abs-library:{library_root}"))
        self.folder_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"abs-folder:{library_root}"))
        self.name = library_name
        self._items: dict[str, FakeItem] = {}  # by rel path
        self._tasks: dict[str, dict[str, Any]] = {}
        self._scans: set[asyncio.Task[None]] = set()

    def application(self) -> web.Application:
        """The Audiobookshelf routes abauto uses, behind API-key auth."""
        app = web.Application(middlewares=[self._auth])
        app.add_routes(
            [
                web.get("/status", self._status),
                web.get("/api/libraries", self._libraries),
                web.get("/api/libraries/{id}/items", self._list),
                web.get("/api/libraries/{id}/series", self._series),
                web.get("/api/libraries/{id}/authors", self._authors),
                web.post("/api/libraries/{id}/scan", self._scan),
                web.get("/api/items/{id}", self._one),
                web.post("/api/items/batch/get", self._batch),
                web.get("/api/tasks", self._tasks_list),
            ]
        )
        return app

    async def stop(self) -> None:
        """Stop listening (and any scan in progress)."""
        for scan in self._scans:
            scan.cancel()
        await super().stop()

    async def scan_now(self) -> None:
        """Scan the library folder and wait for the scan (seeding a library)."""
        await asyncio.to_thread(self._walk)

    def items(self) -> list[FakeItem]:
        """Every item the library lists (missing ones included)."""
        return list(self._items.values())

    # ------------------------------------------------------------------------- scanning

    def _walk(self) -> None:
        now = int(time.time() * 1000)
        found = {}
        for folder, files in self._book_folders().items():
            rel = folder.relative_to(self.root).as_posix()
            facts = parse_folder(rel) | _sidecar(folder)
            known = self._items.get(rel)
            item = FakeItem(
                id=known.id if known else str(uuid.uuid5(uuid.NAMESPACE_URL, f"abs-item:{rel}")),
                rel_path=rel,
                added_at=known.added_at if known else now,
                updated_at=now,
                audio=files.audio,
                ebook=files.ebook,
                **facts,
            )
            found[rel] = item
        for rel, item in self._items.items():
            if rel not in found:
                item.is_missing = True
                found[rel] = item
        self._items = found

    def _book_folders(self) -> dict[Path, BookFiles]:
        folders: dict[Path, BookFiles] = {}
        for path in sorted(self.root.rglob("*")):
            suffix = path.suffix.lower()
            if not path.is_file() or suffix not in AUDIO | EBOOK:
                continue
            folder = path.parent
            if DISC.match(folder.name) and folder.parent != self.root:
                folder = folder.parent  # CD1/Disc 2 merge into their book
            files = folders.setdefault(folder, BookFiles())
            entry = (path.relative_to(folder).as_posix(), path.stat().st_size)
            if suffix in AUDIO:
                files.audio.append(entry)
            elif files.ebook is None:
                files.ebook = entry
        return folders

    async def _scan_in_background(self, task_id: str) -> None:
        try:
            await asyncio.to_thread(self._walk)
        finally:
            self._tasks.pop(task_id, None)

    # --------------------------------------------------------------------------- routes

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        allowed = request.headers.get("Authorization") == f"Bearer {self._key}"
        if request.path.startswith("/api/") and not allowed:
            return web.Response(status=401, text="Unauthorized")
        response: web.StreamResponse = await handler(request)
        return response

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"isInit": True, "serverVersion": "2.36.0", "authMethods": ["local"]}
        )

    async def _libraries(self, request: web.Request) -> web.Response:
        library = {
            "id": self.library_id,
            "name": self.name,
            "mediaType": "book",
            "folders": [{"id": self.folder_id, "fullPath": str(self.root)}],
        }
        return web.json_response({"libraries": [library]})

    def _library(self, request: web.Request) -> None:
        if request.match_info["id"] != self.library_id:
            raise web.HTTPNotFound(text="Library not found")

    async def _list(self, request: web.Request) -> web.Response:
        self._library(request)
        items = sorted(self._items.values(), key=_sort_key(request.query.get("sort")))
        if request.query.get("desc") in ("1", "true"):
            items.reverse()
        limit = int(request.query.get("limit", "0") or 0)
        page = int(request.query.get("page", "0") or 0)
        shown = items[page * limit : (page + 1) * limit] if limit else items
        return web.json_response(
            {
                "results": [self._short(i) for i in shown],
                "total": len(items),
                "limit": limit,
                "page": page,
            }
        )

    async def _series(self, request: web.Request) -> web.Response:
        self._library(request)
        names = sorted({name for item in self._items.values() for name, _ in item.series})
        limit = int(request.query.get("limit", "0") or 0)
        results = (
            [{"id": name, "name": name, "books": []} for name in names][:limit] if limit else []
        )
        return web.json_response({"results": results, "total": len(names)})

    async def _authors(self, request: web.Request) -> web.Response:
        self._library(request)
        names = sorted({a for item in self._items.values() for a in item.authors})
        return web.json_response({"authors": [{"id": n, "name": n, "asin": None} for n in names]})

    async def _scan(self, request: web.Request) -> web.Response:
        self._library(request)
        task_id = str(uuid.uuid4())
        self._tasks[task_id] = {
            "id": task_id,
            "action": "library-scan",
            "data": {"libraryId": self.library_id},
        }
        scan = asyncio.create_task(self._scan_in_background(task_id))
        self._scans.add(scan)
        scan.add_done_callback(self._scans.discard)
        return web.Response(status=200, text="OK")

    async def _tasks_list(self, request: web.Request) -> web.Response:
        return web.json_response({"tasks": list(self._tasks.values())})

    async def _one(self, request: web.Request) -> web.Response:
        for item in self._items.values():
            if item.id == request.match_info["id"]:
                expanded = request.query.get("expanded") == "1"
                return web.json_response(self._expanded(item) if expanded else self._short(item))
        raise web.HTTPNotFound(text="Item not found")

    async def _batch(self, request: web.Request) -> web.Response:
        body = await request.json()
        wanted = set(body.get("libraryItemIds") or [])
        found = [self._expanded(i) for i in self._items.values() if i.id in wanted]
        return web.json_response({"libraryItems": found})

    # ---------------------------------------------------------------------------- shapes

    def _base(self, item: FakeItem) -> dict[str, Any]:
        return {
            "id": item.id,
            "libraryId": self.library_id,
            "folderId": self.folder_id,
            "path": str(self.root / item.rel_path),
            "relPath": item.rel_path,
            "addedAt": item.added_at,
            "updatedAt": item.updated_at,
            "isMissing": item.is_missing,
            "mediaType": "book",
        }

    def _short(self, item: FakeItem) -> dict[str, Any]:
        series = ", ".join(f"{n} #{s}" if s else n for n, s in item.series)
        metadata = {
            "title": item.title,
            "authorName": ", ".join(item.authors),
            "seriesName": series,
        }
        return self._base(item) | {"media": {"metadata": metadata, **_files_minified(item)}}

    def _expanded(self, item: FakeItem) -> dict[str, Any]:
        metadata = {
            "title": item.title,
            "subtitle": item.subtitle,
            "authors": [{"id": _id("author", a), "name": a} for a in item.authors],
            "narrators": item.narrators,
            "series": [{"id": _id("series", n), "name": n, "sequence": s} for n, s in item.series],
            "genres": [],
            "publishedYear": item.published_year,
            "publisher": item.publisher,
            "description": item.description,
            "isbn": item.isbn,
            "asin": item.asin,
            "language": None,
            "abridged": False,
        }
        audio = [
            {"index": n, "metadata": {"filename": name, "size": size}, "duration": 60.0}
            for n, (name, size) in enumerate(item.audio, start=1)
        ]
        media = {
            "metadata": metadata,
            **_files_minified(item),
            "audioFiles": audio,
            "ebookFile": self._ebook_file(item),
        }
        return self._base(item) | {"media": media}

    def _ebook_file(self, item: FakeItem) -> dict[str, Any] | None:
        if item.ebook is None:
            return None
        name, size = item.ebook
        extension = Path(name).suffix
        metadata = {
            "filename": name,
            "ext": extension,
            "path": str(self.root / item.rel_path / name),
            "relPath": name,
            "size": size,
        }
        return {
            "ino": _id("ino", f"{item.rel_path}/{name}"),
            "metadata": metadata,
            "ebookFormat": extension.lstrip(".").lower(),
            "addedAt": item.added_at,
            "updatedAt": item.updated_at,
        }


def _files_minified(item: FakeItem) -> dict[str, Any]:
    """What the short form says of an item's files (`ebookFormat` only when it has one)."""
    files: dict[str, Any] = {
        "numTracks": len(item.audio),
        "numAudioFiles": len(item.audio),
        "duration": 60.0 * len(item.audio),
    }
    if item.ebook is not None:
        files["ebookFormat"] = Path(item.ebook[0]).suffix.lstrip(".").lower()
    return files


def _id(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"abs-{kind}:{name}"))


def _sort_key(sort: str | None) -> Any:
    if sort == "addedAt":
        return lambda item: item.added_at
    if sort == "updatedAt":
        return lambda item: item.updated_at
    return lambda item: item.title.lower()
