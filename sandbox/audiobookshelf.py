"""A fake Audiobookshelf server: the endpoints abauto uses, API-key auth, the short list
form and the expanded form, and a scan that really walks its library folder the way the
real server's `scandir` does (see ../shared/reference/audiobookshelf-api.md) and, as the
real one, probes every audio file with ffprobe: a file that does not decode is no audio
file, and a book folder without one (and without an ebook) is no item.

As in a real book library, a folder with an ebook file and no audio is an item too: its
`media` has no `audioFiles` and an `ebookFile` (short form: `numAudioFiles` 0 and an
`ebookFormat`), the shapes of the server's `Book.toOldJSONMinified`/`…Expanded`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from sandbox.loopback import LoopbackServer
from sandbox.probing import AudioProber

AUDIO = frozenset({".m4b", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac", ".wma"})
EBOOK = frozenset({".epub", ".pdf", ".mobi", ".azw3", ".cbr", ".cbz"})
DISC = re.compile(r"^(cd|disc|disk)\s*\d+$", re.IGNORECASE)
ASIN = re.compile(r"\s*\[(B0[0-9A-Z]{8})\]\s*")
NARRATOR = re.compile(r"\s*\{([^}]*)\}\s*$")
YEAR = re.compile(r"^\(?(\d{4})\)?\s+-\s+")
SEQUENCE = re.compile(
    r"^(?P<label>vol\.? |volume |book )?(?P<sequence>\d{0,3}(?:\.\d{1,2})?)(?P<dot>\.?)"
    r"(?: (?P<suffix>.*))?$",
    re.IGNORECASE,
)
"""A part of a title folder that is a series position, as the real server's scanner
(`scandir.js`, `getSequence`) tests each " - " part: at most three digits and two
decimals, so "Vol. 4-6" and "Vol. 1000" are no position and stay in the title."""


logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FakeAudioFile:
    """An audio file of an item: its path in the item's folder, size and probed length."""

    rel_path: str
    size: int
    duration: float


@dataclass
class BookFiles:
    """The media files of one book folder: its decodable audio and its (first) ebook."""

    audio: list[FakeAudioFile] = field(default_factory=list)
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
    language: str | None = None
    genres: list[str] = field(default_factory=list)
    audio: list[FakeAudioFile] = field(default_factory=list)
    ebook: tuple[str, int] | None = None  # (file name, size): an item's one ebook file
    added_at: int = 0
    updated_at: int = 0
    is_missing: bool = False
    explicit: bool = False


def parse_folder(rel_path: str) -> dict[str, Any]:
    """What Audiobookshelf reads from a book folder's path (the last three folders)."""
    parts = rel_path.split("/")[-3:]
    author = parts[0] if len(parts) >= 2 else None
    series = parts[1] if len(parts) == 3 else None
    title = parts[-1]
    facts: dict[str, Any] = {"authors": _authors(author), "series": []}
    if found := ASIN.search(title):
        facts["asin"] = found.group(1)
        title = ASIN.sub(" ", title).strip()
    if found := NARRATOR.search(title):
        facts["narrators"] = [n.strip() for n in found.group(1).split(",") if n.strip()]
        title = NARRATOR.sub("", title).strip()
    sequence = None
    if series:
        title, sequence = _sequence(title)
    if found := YEAR.match(title):
        facts["published_year"] = found.group(1)
        title = title[found.end() :].strip()
    if series:
        facts["series"] = [(series, sequence)]
    facts["title"] = title
    return facts


def _sequence(title: str) -> tuple[str, str | None]:
    """The first " - " part that is a position, taken out of the title, as the server
    does: a part with words after its number needs a label or a dot ("101 Dalmatians"
    is a title, "101. Dalmatians" a position); "01" reads as "1"."""
    parts = title.split(" - ")
    for n, part in enumerate(parts):
        found = SEQUENCE.match(part)
        if not found or (found["suffix"] and not (found["label"] or found["dot"])):
            continue
        number = found["sequence"]
        sequence = f"{Decimal(number).normalize():f}" if number and number != "." else number
        rest = parts[:n] + ([found["suffix"]] if found["suffix"] else []) + parts[n + 1 :]
        return " - ".join(rest), sequence or None
    return title, None


def _authors(folder: str | None) -> list[str]:
    """The author folder read as names: "Last, First" (one comma, a surname before it)
    is "First Last", as the server's name parser reads it."""
    if not folder:
        return []
    last, comma, first = folder.partition(",")
    if comma and first.strip() and "," not in first and not {"&", ";"} & set(folder):
        return [f"{first.strip()} {last.strip()}"]
    return [folder]


def _sidecar(folder: Path) -> dict[str, Any]:
    path = folder / "metadata.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    facts: dict[str, Any] = {}
    for key in ("title", "subtitle", "asin", "isbn", "publisher", "description", "language"):
        if data.get(key):
            facts[key] = data[key]
    if data.get("publishedYear"):
        facts["published_year"] = str(data["publishedYear"])
    if data.get("authors"):
        facts["authors"] = list(data["authors"])
    if data.get("narrators"):
        facts["narrators"] = list(data["narrators"])
    if data.get("genres"):
        facts["genres"] = list(data["genres"])
    if data.get("series"):
        facts["series"] = [_series_text(s) for s in data["series"]]
    if data.get("explicit") is True:
        facts["explicit"] = True
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
        self._seen: dict[str, tuple[tuple[str, int, int], ...]] = {}  # rel → folder signature
        self._tasks: dict[str, dict[str, Any]] = {}
        self._scans: set[asyncio.Task[None]] = set()
        self.scan_seconds = 0.0
        """How long a library scan holds its task after reading the folder (a real scan
        of a large library takes minutes; one asked for meanwhile is dropped)."""
        self.watcher_seconds = 0.0
        """When > 0, a library change (stood for by each scan request) also starts a
        `watcher-scan` task that runs this long, as the real watcher's (10-12 s)."""
        self.user: dict[str, Any] = {
            "id": "root-user",
            "username": "root",
            "type": "root",
            "token": "legacy-token-never-to-be-kept",  # the real answer carries one
            "isActive": True,
            "permissions": {
                "accessExplicitContent": True,
                "accessAllLibraries": True,
                "update": True,
            },
            "librariesAccessible": [],
        }
        """The API key's user, as `GET /api/me` answers (tests make it a plain user)."""
        self.overlap_doubles_s = 0.0
        """When > 0, a folder a library scan adds while a watcher task runs is listed
        twice for this long (overlapping real scans do that), then one copy, either one,
        is marked missing."""
        self._doubles: dict[str, FakeItem] = {}  # second copies, by rel path
        self._new_doubles: list[str] = []
        self.watcher_enabled = True
        """The library's watcher (`settings.disableWatcher` off). When off, watcher
        updates are answered 200 and ignored, as the real server does."""
        self.watcher_delay_s = 10.0
        """How long the watcher waits after a change before it scans (the real: 10 s)."""
        self.watcher_updates: list[str] = []
        """Paths the watcher was told of through `POST /api/watcher/update`."""
        self.library_scans = 0
        """Library scans started (not counting dropped requests)."""
        self.walks = 0
        """Scans that have read the library folder so far."""
        self.dropped_scans = 0
        """Scan requests dropped because a library scan was running ("Already scanning")."""
        self.updates: list[tuple[str, dict[str, Any]]] = []
        """Every metadata update asked for: (item id, the `metadata` sent)."""
        self._prober = AudioProber()
        self._index: tuple[object, dict[str, FakeItem]] = (None, {})

    def application(self) -> web.Application:
        """The Audiobookshelf routes abauto uses, behind API-key auth."""
        app = web.Application(middlewares=[self._auth])
        app.add_routes(
            [
                web.get("/status", self._status),
                web.get("/api/me", self._me),
                web.get("/api/libraries", self._libraries),
                web.get("/api/libraries/{id}/items", self._list),
                web.get("/api/libraries/{id}/series", self._series),
                web.get("/api/libraries/{id}/authors", self._authors),
                web.post("/api/libraries/{id}/scan", self._scan),
                web.get("/api/items/{id}", self._one),
                web.patch("/api/items/{id}/media", self._update_media),
                web.post("/api/items/batch/get", self._batch),
                web.get("/api/tasks", self._tasks_list),
                web.post("/api/watcher/update", self._watcher_update),
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

    def load(self, items: list[FakeItem]) -> None:
        """Hold these items, as if a scan had found them (a generated library, no files)."""
        self._items = {item.rel_path: item for item in items}

    def remove(self, item_id: str) -> None:
        """Forget an item, as the server does when one removes it from the library."""
        self._items = {rel: item for rel, item in self._items.items() if item.id != item_id}

    # ------------------------------------------------------------------------- scanning

    def _walk(self) -> None:
        now = int(time.time() * 1000)
        found = {}
        for folder, files in self._book_folders().items():
            rel = folder.relative_to(self.root).as_posix()
            known = self._items.get(rel)
            signature = _signature(folder)
            if known is not None and not known.is_missing and self._seen.get(rel) == signature:
                # As the real scanner: a folder whose files did not change is not read
                # again, so what was set through the API (PATCH …/media) stays.
                found[rel] = known
                continue
            self._seen[rel] = signature
            facts = parse_folder(rel) | _sidecar(folder)
            item = FakeItem(
                id=known.id if known else str(uuid.uuid5(uuid.NAMESPACE_URL, f"abs-item:{rel}")),
                rel_path=rel,
                added_at=known.added_at if known else now,
                updated_at=now,
                audio=files.audio,
                ebook=files.ebook,
                **facts,
            )
            if known is not None and replace(known, updated_at=now) == item:
                item = known  # as the real scanner: an unchanged item keeps its updatedAt
            found[rel] = item
        for rel, item in self._items.items():
            if rel not in found:
                item.is_missing = True
                found[rel] = item
        if self.overlap_doubles_s > 0 and self._running("watcher-scan"):
            for rel in found.keys() - self._items.keys() - self._doubles.keys():
                self._doubles[rel] = replace(found[rel], id=str(uuid.uuid4()), added_at=now + 1)
                self._new_doubles.append(rel)
        self._items = found
        self.walks += 1

    def _book_folders(self) -> dict[Path, BookFiles]:
        candidates: dict[Path, list[Path]] = {}
        ebooks: dict[Path, tuple[str, int]] = {}
        for path in sorted(self.root.rglob("*")):
            suffix = path.suffix.lower()
            if not path.is_file() or suffix not in AUDIO | EBOOK:
                continue
            folder = path.parent
            if DISC.match(folder.name) and folder.parent != self.root:
                folder = folder.parent  # CD1/Disc 2 merge into their book
            if suffix in AUDIO:
                candidates.setdefault(folder, []).append(path)
            else:
                entry = (path.relative_to(folder).as_posix(), path.stat().st_size)
                ebooks.setdefault(folder, entry)
        durations = self._prober.durations([p for paths in candidates.values() for p in paths])
        folders: dict[Path, BookFiles] = {}
        for folder in candidates.keys() | ebooks.keys():
            audio = [
                FakeAudioFile(p.relative_to(folder).as_posix(), p.stat().st_size, seconds)
                for p in candidates.get(folder, [])
                if (seconds := durations[p]) is not None
            ]
            if audio or folder in ebooks:
                folders[folder] = BookFiles(audio, ebooks.get(folder))
            else:
                logger.warning("no audio file of %s decodes: not a library item", folder)
        return folders

    async def _scan_in_background(self, task_id: str, hold_s: float, walk_first: bool) -> None:
        try:
            if walk_first:
                await asyncio.to_thread(self._walk)
                self._resolve_doubles_later()
            if hold_s > 0:
                await asyncio.sleep(hold_s)  # a long task: it stays listed meanwhile
            if not walk_first:
                await asyncio.to_thread(self._walk)
        finally:
            self._tasks.pop(task_id, None)

    def _resolve_doubles_later(self) -> None:
        while self._new_doubles:
            rel = self._new_doubles.pop()
            resolve = asyncio.create_task(self._resolve_double(rel))
            self._scans.add(resolve)
            resolve.add_done_callback(self._scans.discard)

    async def _resolve_double(self, rel: str) -> None:
        await asyncio.sleep(self.overlap_doubles_s)  # how long the server lists both
        loser = random.choice([self._items[rel], self._doubles[rel]])  # noqa: S311
        loser.is_missing = True  # sometimes the newer copy, sometimes the older

    def _listed(self) -> list[FakeItem]:
        """What the key's user may see: explicit books only with that permission, as
        the real server filters every list and lookup by the user's rights."""
        sees_explicit = bool(self.user.get("permissions", {}).get("accessExplicitContent"))
        every = [*self._items.values(), *self._doubles.values()]
        return [item for item in every if sees_explicit or not item.explicit]

    def _start_task(self, action: str, hold_s: float) -> None:
        """A library scan reads the folder at once and holds its task `hold_s` more; the
        watcher waits out its delay first, then scans (as the real one: 10 s, then scan)."""
        task_id = str(uuid.uuid4())
        self._tasks[task_id] = {"id": task_id, "action": action,
                                "data": {"libraryId": self.library_id}}  # fmt: skip
        walk_first = action == "library-scan"
        scan = asyncio.create_task(self._scan_in_background(task_id, hold_s, walk_first))
        self._scans.add(scan)
        scan.add_done_callback(self._scans.discard)

    def _running(self, action: str) -> bool:
        return any(task["action"] == action for task in self._tasks.values())

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
        items = sorted(self._listed(), key=_sort_key(request.query.get("sort")))
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
        names = sorted({name for item in self._listed() for name, _ in item.series})
        limit = int(request.query.get("limit", "0") or 0)
        results = (
            [{"id": name, "name": name, "books": []} for name in names][:limit] if limit else []
        )
        return web.json_response({"results": results, "total": len(names)})

    async def _authors(self, request: web.Request) -> web.Response:
        self._library(request)
        names = sorted({a for item in self._listed() for a in item.authors})
        return web.json_response({"authors": [{"id": n, "name": n, "asin": None} for n in names]})

    async def _scan(self, request: web.Request) -> web.Response:
        self._library(request)
        if self.user["type"] not in ("root", "admin"):
            return web.Response(status=403, text="Forbidden")  # non-admin: no scans
        if self.watcher_seconds > 0 and not self._running("watcher-scan"):
            self._start_task("watcher-scan", self.watcher_seconds)
        if self._running("library-scan"):
            self.dropped_scans += 1  # the real server logs "Already scanning" and drops it
        else:
            self.library_scans += 1
            self._start_task("library-scan", self.scan_seconds)
        return web.Response(status=200, text="OK")  # answered at once, whatever happens

    async def _watcher_update(self, request: web.Request) -> web.Response:
        if self.user["type"] not in ("root", "admin"):
            return web.Response(status=403, text="Forbidden")
        body = await request.json()
        if not all(body.get(k) for k in ("libraryId", "path", "type")):
            return web.Response(status=400, text="Bad Request")
        if self.watcher_enabled and body["libraryId"] == self.library_id:
            self.watcher_updates.append(str(body["path"]))
            if not self._running("watcher-scan"):
                self._start_task("watcher-scan", self.watcher_delay_s)
        return web.Response(status=200, text="OK")  # also when ignored, as the real one

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response(self.user)

    async def _tasks_list(self, request: web.Request) -> web.Response:
        return web.json_response({"tasks": list(self._tasks.values())})

    async def _one(self, request: web.Request) -> web.Response:
        for item in self._listed():
            if item.id == request.match_info["id"]:
                expanded = request.query.get("expanded") == "1"
                return web.json_response(self._expanded(item) if expanded else self._short(item))
        raise web.HTTPNotFound(text="Item not found")

    async def _update_media(self, request: web.Request) -> web.Response:
        """Merge `{metadata: {...}}` into the item's metadata, as the real server's
        `PATCH /api/items/:id/media` does (only the keys sent change; arrays are replaced
        whole); 403 for a user who may not update, 404 for an item it cannot see."""
        user = self.user
        may_update = user["type"] in ("root", "admin") or bool(
            user.get("permissions", {}).get("update")
        )
        if not may_update:
            return web.Response(status=403, text="Forbidden")
        item = next((i for i in self._listed() if i.id == request.match_info["id"]), None)
        if item is None:
            raise web.HTTPNotFound(text="Item not found")
        body = await request.json()
        metadata = body.get("metadata") if isinstance(body, dict) else None
        if not isinstance(metadata, dict):
            return web.Response(status=400, text="Invalid request")
        self.updates.append((item.id, metadata))
        updated = _merge_metadata(item, metadata)
        if updated:
            item.updated_at = int(time.time() * 1000)
        return web.json_response({"updated": updated, "libraryItem": self._expanded(item)})

    async def _batch(self, request: web.Request) -> web.Response:
        body = await request.json()
        by_id = self._by_id()
        wanted = [by_id[i] for i in dict.fromkeys(body.get("libraryItemIds") or []) if i in by_id]
        return web.json_response({"libraryItems": [self._expanded(i) for i in wanted]})

    def _by_id(self) -> dict[str, FakeItem]:
        """The listed items by id (looked up by id, as the server's database does: a
        batch of 50 from a library of 20,000 must not walk all of them)."""
        key = (id(self._items), len(self._items), len(self._doubles), str(self.user))
        if self._index[0] != key:
            self._index = (key, {item.id: item for item in self._listed()})
        return self._index[1]

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
            "genres": item.genres,
            "publishedYear": item.published_year,
            "publisher": item.publisher,
            "description": item.description,
            "isbn": item.isbn,
            "asin": item.asin,
            "language": item.language,
            "abridged": False,
            "explicit": item.explicit,
        }
        audio = [
            {
                "index": n,
                "metadata": {"filename": file.rel_path, "size": file.size},
                "duration": file.duration,
            }
            for n, file in enumerate(item.audio, start=1)
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


_SCALARS = {
    "title": "title", "subtitle": "subtitle", "publishedYear": "published_year",
    "publisher": "publisher", "description": "description", "isbn": "isbn", "asin": "asin",
    "language": "language",
}  # fmt: skip
"""`media.metadata` keys the fake keeps as text, and its item's attribute for each."""


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """The folder's files (its disc subfolders' too), with sizes and modification times."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    return tuple(sorted((p.relative_to(folder).as_posix(), *_size_and_time(p)) for p in files))


def _size_and_time(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _merge_metadata(item: FakeItem, metadata: dict[str, Any]) -> bool:
    """Apply the keys of a `PATCH …/media` metadata body; whether anything changed."""
    before = replace(item)
    for key, attribute in _SCALARS.items():
        if key in metadata:
            value = metadata[key]
            setattr(item, attribute, None if value in (None, "") else str(value))
    if "authors" in metadata:
        item.authors = [a["name"] for a in metadata["authors"] or [] if a.get("name")]
    if "series" in metadata:
        item.series = [
            (s["name"], s.get("sequence") or None)
            for s in metadata["series"] or []
            if s.get("name")
        ]
    for key in ("narrators", "genres"):
        if key in metadata:
            setattr(item, key, [str(v) for v in metadata[key] or [] if v])
    return item != before


def _files_minified(item: FakeItem) -> dict[str, Any]:
    """What the short form says of an item's files (`ebookFormat` only when it has one)."""
    files: dict[str, Any] = {
        "numTracks": len(item.audio),
        "numAudioFiles": len(item.audio),
        "duration": sum(file.duration for file in item.audio),
    }
    if item.ebook is not None:
        files["ebookFormat"] = Path(item.ebook[0]).suffix.lstrip(".").lower()
    return files


def _id(kind: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"abs-{kind}:{name}"))


def _sort_key(sort: str | None) -> Any:
    """The list's order. As the real server (`libraryItemsBookFilters.getOrder`), there
    is no `updatedAt` sort: an unknown key leaves the default order."""
    if sort == "addedAt":
        return lambda item: item.added_at
    return lambda item: item.title.lower()
