"""The Audiobookshelf server API, as discovery and the importer use it.

Authentication is an API key (`Authorization: Bearer …`). The library is read in two
steps, as the server intends: the paginated item list (always the short form), then
`POST /api/items/batch/get` for the expanded items with their authors and series
arrays. Answers are validated at the edge: a malformed one raises
`AudiobookshelfResponseError`, never a KeyError deep inside a service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from shared.faults import CredentialsRefused, Unavailable
from shared.http import HttpStatusError, HttpUnavailableError, PoliteHttp


class AudiobookshelfError(Exception):
    """Audiobookshelf could not answer as needed."""


class AudiobookshelfAuthError(AudiobookshelfError, CredentialsRefused):
    """The API key was refused: a configuration error (see `shared.faults`)."""


class AudiobookshelfForbiddenError(AudiobookshelfAuthError):
    """The key is valid but its user lacks the rights asked for (403): a configuration
    error too, with another remedy (a key of a user with those rights)."""


class AudiobookshelfUnavailableError(AudiobookshelfError, Unavailable):
    """Audiobookshelf is busy or broken for now (429, 5xx): try again later."""


class AudiobookshelfNotFoundError(AudiobookshelfError):
    """What was asked for (an item, a library) is not on the server (404)."""


class AudiobookshelfResponseError(AudiobookshelfError):
    """Audiobookshelf answered with something that is not what its API returns."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


_M = TypeVar("_M", bound=_Model)


class _Folder(_Model):
    id: str
    full_path: str = Field(alias="fullPath")


class _Library(_Model):
    id: str
    name: str
    media_type: str = Field(default="book", alias="mediaType")
    folders: list[_Folder] = Field(default_factory=list)


class _Permissions(_Model):
    access_explicit_content: bool = Field(default=False, alias="accessExplicitContent")
    access_all_libraries: bool = Field(default=False, alias="accessAllLibraries")


class _Me(_Model):
    """The key's user as `GET /api/me` describes it. Only these fields are read: the
    answer also holds the user's legacy token, which is never kept."""

    username: str = ""
    type: str
    is_active: bool = Field(default=True, alias="isActive")
    permissions: _Permissions = Field(default_factory=_Permissions)
    libraries_accessible: list[str] = Field(default_factory=list, alias="librariesAccessible")


class _Libraries(_Model):
    libraries: list[_Library]


class _ShortMetadata(_Model):
    title: str | None = None


class _ShortMedia(_Model):
    metadata: _ShortMetadata = Field(default_factory=_ShortMetadata)


class _ShortItem(_Model):
    id: str
    path: str = ""
    rel_path: str = Field(default="", alias="relPath")
    is_missing: bool = Field(default=False, alias="isMissing")
    added_at: int | None = Field(default=None, alias="addedAt")
    updated_at: int | None = Field(default=None, alias="updatedAt")
    """Milliseconds; the server moves it whenever a scan or an edit changes the item."""
    media: _ShortMedia = Field(default_factory=_ShortMedia)


class _ItemPage(_Model):
    results: list[_ShortItem]
    total: int


class _Named(_Model):
    name: str


class _SeriesEntry(_Model):
    name: str
    sequence: str | None = None


class _Metadata(_Model):
    title: str | None = None
    subtitle: str | None = None
    authors: list[_Named] = Field(default_factory=list)
    narrators: list[str] = Field(default_factory=list)
    series: list[_SeriesEntry] = Field(default_factory=list)
    isbn: str | None = None
    asin: str | None = None
    publisher: str | None = None
    published_year: int | None = Field(default=None, alias="publishedYear")
    description: str | None = None
    language: str | None = None
    genres: list[str] = Field(default_factory=list)

    @field_validator("authors", "narrators", "series", "genres", mode="before")
    @classmethod
    def _absent_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("published_year", mode="before")
    @classmethod
    def _year(cls, value: Any) -> int | None:
        """ABS sends the year as text, sometimes a date or free text: keep a plain year."""
        text = str(value or "").strip()[:4]
        return int(text) if text.isdigit() else None


class _AudioFile(_Model):
    exclude: bool = False


class _EbookFile(_Model):
    ebook_format: str | None = Field(default=None, alias="ebookFormat")


class _Media(_Model):
    metadata: _Metadata = Field(default_factory=_Metadata)
    duration: float | None = None
    audio_files: list[_AudioFile] | None = Field(default=None, alias="audioFiles")
    ebook_file: _EbookFile | None = Field(default=None, alias="ebookFile")


class _Item(_Model):
    id: str
    library_id: str = Field(alias="libraryId")
    path: str = ""
    rel_path: str = Field(default="", alias="relPath")
    is_missing: bool = Field(default=False, alias="isMissing")
    added_at: int | None = Field(default=None, alias="addedAt")
    updated_at: int | None = Field(default=None, alias="updatedAt")
    media: _Media = Field(default_factory=_Media)


class _Updated(_Model):
    """What `PATCH /api/items/:id/media` answers: whether anything changed, and the item."""

    updated: bool = False
    library_item: _Item | None = Field(default=None, alias="libraryItem")


class _Batch(_Model):
    library_items: list[_Item] = Field(alias="libraryItems")


class _Tasks(_Model):
    tasks: list[dict[str, Any]]


@dataclass(frozen=True)
class KeyUser:
    """What the configured API key may do: its user's type and permissions."""

    username: str
    type: str  # root, admin, user, guest
    is_active: bool
    sees_explicit: bool
    all_libraries: bool
    libraries: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        """Whether it may scan libraries (root or admin)."""
        return self.type in ("root", "admin")


def missing_rights(
    user: KeyUser, *, admin: bool, explicit: bool, libraries: tuple[str, ...] = ()
) -> list[str]:
    """What the key's user lacks for a job, in words for the one line that says so."""
    lacks = []
    if not user.is_active:
        lacks.append(f"its user {user.username!r} is not active")
    if admin and not user.is_admin:
        lacks.append(f"its user {user.username!r} is a {user.type}, not an admin (scans need one)")
    if explicit and not user.sees_explicit:
        lacks.append("it cannot see explicit books (they would look missing and be fetched again)")
    unseen = [] if user.all_libraries else [i for i in libraries if i not in user.libraries]
    if unseen:
        lacks.append(f"it cannot see the libraries {', '.join(unseen)}")
    return lacks


@dataclass(frozen=True)
class Library:
    """An Audiobookshelf library."""

    id: str
    name: str
    media_type: str
    folders: tuple[tuple[str, str], ...]  # (folder id, full path)


@dataclass(frozen=True)
class LibraryItem:
    """One book of the library, expanded."""

    id: str
    library_id: str
    path: str
    rel_path: str
    title: str
    subtitle: str | None
    authors: tuple[str, ...]
    narrators: tuple[str, ...]
    series: tuple[tuple[str, str | None], ...]  # (name, sequence)
    isbn: str | None
    asin: str | None
    publisher: str | None
    published_year: int | None
    description: str | None
    duration_seconds: float | None
    added_at: int | None
    updated_at: int | None
    is_missing: bool
    audio_files: int | None = None
    """Audio files the book plays (excluded ones not counted); None when not stated."""
    ebook_format: str | None = None
    """The format of the item's ebook file ("epub", "pdf", …), if it has one."""
    language: str | None = None
    genres: tuple[str, ...] = ()

    @property
    def has_audio(self) -> bool:
        """Whether the item is an audiobook. A book library also lists ebook-only items
        (an epub, no audio files): those are not. An answer that does not say counts as
        audio, so a terse server never makes the whole library look gone."""
        return self.audio_files is None or self.audio_files > 0


def _item(raw: _Item) -> LibraryItem:
    meta = raw.media.metadata
    audio = raw.media.audio_files
    ebook = raw.media.ebook_file
    return LibraryItem(
        id=raw.id,
        library_id=raw.library_id,
        path=raw.path,
        rel_path=raw.rel_path,
        title=meta.title or raw.rel_path.rsplit("/", 1)[-1] or raw.id,
        subtitle=meta.subtitle,
        authors=tuple(a.name for a in meta.authors),
        narrators=tuple(meta.narrators),
        series=tuple((s.name, s.sequence) for s in meta.series),
        isbn=meta.isbn,
        asin=meta.asin,
        publisher=meta.publisher,
        published_year=meta.published_year,
        description=meta.description,
        duration_seconds=raw.media.duration,
        added_at=raw.added_at,
        updated_at=raw.updated_at,
        is_missing=raw.is_missing,
        audio_files=None if audio is None else sum(not a.exclude for a in audio),
        ebook_format=ebook.ebook_format if ebook is not None else None,
        language=meta.language,
        genres=tuple(meta.genres),
    )


class AudiobookshelfClient:
    """One Audiobookshelf server, reached with an API key."""

    def __init__(self, base_url: str, api_key: SecretStr, http: PoliteHttp) -> None:
        self._base = base_url.rstrip("/")
        self._key = api_key
        self._http = http

    async def me(self) -> KeyUser:
        """What the configured key may do (`GET /api/me`)."""
        user = await self._get("/api/me", _Me)
        return KeyUser(
            user.username,
            user.type,
            user.is_active,
            user.permissions.access_explicit_content,
            user.permissions.access_all_libraries,
            tuple(user.libraries_accessible),
        )

    async def check_rights(
        self, *, admin: bool, explicit: bool, libraries: tuple[str, ...] = ()
    ) -> KeyUser:
        """The key's user, or `AudiobookshelfForbiddenError` saying what it lacks."""
        user = await self.me()
        lacks = missing_rights(user, admin=admin, explicit=explicit, libraries=libraries)
        if lacks:
            raise AudiobookshelfForbiddenError(
                f"the Audiobookshelf API key cannot do this job: {'; '.join(lacks)}"
            )
        return user

    async def libraries(self) -> list[Library]:
        """Every library on the server."""
        answer = await self._get("/api/libraries", _Libraries)
        return [
            Library(
                lib.id, lib.name, lib.media_type, tuple((f.id, f.full_path) for f in lib.folders)
            )
            for lib in answer.libraries
        ]

    async def library_items(
        self, library_id: str, page_size: int = 200, *, newest_first: bool = False
    ) -> AsyncIterator[_ShortItem]:
        """Every item of a library in the short form, page by page."""
        page = 0
        seen = 0
        while True:
            params = {"limit": str(page_size), "page": str(page)}
            if newest_first:
                params |= {"sort": "addedAt", "desc": "1"}
            answer = await self._get(f"/api/libraries/{library_id}/items", _ItemPage, params)
            for item in answer.results:
                yield item
            seen += len(answer.results)
            if not answer.results or seen >= answer.total:
                return
            page += 1

    async def expanded_items(self, ids: Sequence[str], batch_size: int = 50) -> list[LibraryItem]:
        """The expanded items (authors and series arrays), fetched in batches."""
        items: list[LibraryItem] = []
        for start in range(0, len(ids), batch_size):
            chunk = list(ids[start : start + batch_size])
            answer = await self._post("/api/items/batch/get", {"libraryItemIds": chunk}, _Batch)
            items += [_item(raw) for raw in answer.library_items]
        return items

    async def all_books(self, library_id: str) -> list[LibraryItem]:
        """The whole library, expanded."""
        ids = [item.id async for item in self.library_items(library_id)]
        return await self.expanded_items(ids)

    async def update_metadata(self, item_id: str, metadata: dict[str, Any]) -> LibraryItem | None:
        """Set some of a book's metadata (`PATCH /api/items/:id/media {metadata}`; the
        server merges it, creating series and authors as needed); the updated item.
        Needs a key whose user may update (403 otherwise); an unknown item is
        `AudiobookshelfNotFoundError`."""
        path = f"/api/items/{quote(item_id, safe='')}/media"
        try:
            body = await self._http.patch_json(
                self._base + path, {"metadata": metadata}, headers=self._headers()
            )
        except HttpStatusError as error:
            raise self._status_error(error) from None
        answer = self._parse(_Updated, body, path)
        return _item(answer.library_item) if answer.library_item is not None else None

    async def scan(self, library_id: str) -> None:
        """Ask the server to scan a library (it answers at once and scans in the background)."""
        await self._command(f"/api/libraries/{library_id}/scan")

    async def tasks(self) -> list[dict[str, Any]]:
        """The server's running tasks (a scan is one)."""
        return (await self._get("/api/tasks", _Tasks)).tasks

    async def tell_watcher(self, library_id: str, paths: Sequence[str]) -> None:
        """Tell the server's watcher these files (server paths) were added: it scans just
        them ~10 s later. Admin only; silently ignored by a library whose watcher is off
        (`settings.disableWatcher`), so a library scan stays the fallback."""
        for path in paths:
            await self._command(
                "/api/watcher/update", {"libraryId": library_id, "path": path, "type": "add"}
            )

    async def is_scanning(self, library_id: str) -> bool:
        """Whether a library scan of this library is running (a scan asked for meanwhile
        is dropped by the server: "Already scanning"). Watcher tasks do not count."""
        return any(
            task.get("action") == "library-scan"
            and (task.get("data") or {}).get("libraryId") == library_id
            for task in await self.tasks()
        )

    async def items_at(
        self, library_id: str, rel_path: str, newest: int = 200
    ) -> list[LibraryItem]:
        """Every item listed at `rel_path` (missing ones included, flagged), expanded,
        among the `newest` items added: a new folder is near the top. Audiobookshelf can
        list one folder twice for a while when scans overlap."""
        wanted = rel_path.strip("/")
        ids: list[str] = []
        seen = 0
        async for item in self.library_items(library_id, newest_first=True):
            if item.rel_path.strip("/") == wanted:
                ids.append(item.id)
            seen += 1
            if seen >= newest:
                break
        return await self.expanded_items(ids) if ids else []

    async def find_item_by_rel_path(self, library_id: str, rel_path: str) -> LibraryItem | None:
        """The one present (not missing) item at `rel_path`, if exactly one is listed."""
        present = [i for i in await self.items_at(library_id, rel_path) if not i.is_missing]
        return present[0] if len(present) == 1 else None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key.get_secret_value()}"}

    async def _get(self, path: str, model: type[_M], params: dict[str, str] | None = None) -> _M:
        try:
            body = await self._http.get_json(
                self._base + path, params=params, headers=self._headers()
            )
        except HttpStatusError as error:
            raise self._status_error(error) from None
        return self._parse(model, body, path)

    async def _post(self, path: str, payload: Any, model: type[_M]) -> _M:
        try:
            body = await self._http.post_json(self._base + path, payload, headers=self._headers())
        except HttpStatusError as error:
            raise self._status_error(error) from None
        return self._parse(model, body, path)

    async def _command(self, path: str, payload: Any = None) -> None:
        try:
            await self._http.post(self._base + path, headers=self._headers(), payload=payload)
        except HttpStatusError as error:
            raise self._status_error(error) from None

    def _status_error(self, error: HttpStatusError) -> AudiobookshelfError:
        if error.status == 401:
            return AudiobookshelfAuthError(
                f"Audiobookshelf at {self._base} refused the API key (unknown, expired or "
                "inactive: keys made through the API are inactive unless isActive is sent)"
            )
        if error.status == 403:
            return AudiobookshelfForbiddenError(
                f"Audiobookshelf at {self._base} accepted the API key but its user may not "
                "do this (scanning needs an admin's key, changing metadata one that may update)"
            )
        if error.status == 404:
            return AudiobookshelfNotFoundError(f"Audiobookshelf at {self._base}: not found")
        if isinstance(error, HttpUnavailableError):
            return AudiobookshelfUnavailableError(
                f"Audiobookshelf at {self._base}: HTTP {error.status}"
            )
        return AudiobookshelfError(f"Audiobookshelf at {self._base}: HTTP {error.status}")

    def _parse(self, model: type[_M], body: Any, path: str) -> _M:
        try:
            return model.model_validate(body)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()[:3]
            )
            raise AudiobookshelfResponseError(
                f"unexpected answer from {path}: {problems}"
            ) from None
