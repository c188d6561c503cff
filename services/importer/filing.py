"""Filing one completed download into the library, then making Audiobookshelf see it.

1. Find the library to scan (before anything is written: if Audiobookshelf is away,
   nothing is placed).
2. Map qBittorrent's path to ours (`path_mapping.py`) and refuse one outside the
   download folders (`sources.py`).
3. Plan where every file goes under `<library>/<Author>/<Series>/Vol. N - Title/`
   (`layout.py`), refusing anything that would land outside the library or is empty
   (`placement.py`).
4. Prove the audio is the wanted book before anything is placed (`proof.py`, read by
   `listening.py`), then refuse any existing folder for the book that is not this
   download's own earlier placement (`ownership.py`).
5. Write the ownership marker, hard-link the files (copy only if allowed and linking is
   impossible) and write the `metadata.json` sidecar (`sidecar.py`).
6. Ask Audiobookshelf to scan, wait for the scan, find the new item at that folder.

Success is an "import completed" with the item id. Audiobookshelf away (`is_transient`)
or refusing the API key (`is_refused`) is no failure of the book: the error propagates,
the consumer redelivers the same event later, the placement stays and is reused. Any
other failure is an "import failed" and a "failure recorded" with a code, and what this
import placed is taken back (`removal.py`) — the download stays seeding either way.
A failure saying the release itself holds no usable audio of the book (`BLOCKLISTED`)
also blocklists the release, in the same batch of events: it is never taken for the
book again. Each import is an IMPORT task, and counted (`shared.metrics`): by outcome,
and for a completed one the seconds from taking the event to the published item.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ParamSpec, TypeVar

from services.importer.arrival import NotArrived, Patience, arrival
from services.importer.layout import book_folder
from services.importer.listening import DecoderMissing, hear
from services.importer.ownership import MARKER, Claim, claim_text, earlier_claim
from services.importer.path_mapping import map_path, parse_mappings
from services.importer.placement import (
    AUDIO,
    Marker,
    Placement,
    PlacementError,
    UnsafePathError,
    execute,
    plan_placement,
)
from services.importer.ports import LibraryServer, Publisher
from services.importer.proof import PROOF_CODES, verdict
from services.importer.removal import Identity, identity, remove_placement
from services.importer.settings import ImporterSettings
from services.importer.sidecar import SIDECAR, metadata_json, write_sidecar
from services.importer.sources import confine
from shared import events as ev
from shared.clients.audiobookshelf import AudiobookshelfError, Library, LibraryItem
from shared.faults import is_refused, is_transient
from shared.http import HttpError
from shared.metrics import IMPORT_DURATION, IMPORTS, RELEASES_BLOCKLISTED
from shared.task_runs import task_run

logger = logging.getLogger(__name__)
_A = ParamSpec("_A")
_R = TypeVar("_R")

PRODUCER = "importer"
BLOCKLISTED = PROOF_CODES | {"NO_AUDIO", "EMPTY_AUDIO"}
"""Failures that say the release itself is not usable audio of the book: the proof's
refusals, a download with no audio file, an empty audio file. Taking it again could only
fail again, so it is blocklisted. A failure on the library's side (a folder in the way,
Audiobookshelf's errors) or of the path (mapping, confinement) is never the release's."""
_MARKER = PurePosixPath(MARKER)
_SIDECAR = PurePosixPath(SIDECAR)


class ImportFailed(Exception):  # noqa: N818  (an outcome, named as one)
    """The import failed for good; `code` says how."""

    def __init__(self, code: str, reason: str, details: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class Placed:
    """What an import put into the library, to take it back if the import fails."""

    library_root: Path
    book_dir: PurePosixPath
    files: Mapping[PurePosixPath, Identity]
    """Relative to the book folder, each with its (device, inode): the placed files, the
    marker, and once written the sidecar."""
    created: tuple[PurePosixPath, ...]
    """Folders this download's imports created, relative to the library root."""

    @property
    def folder(self) -> Path:
        """The book folder."""
        return self.library_root.joinpath(*self.book_dir.parts)

    def with_files(self, names: Iterable[PurePosixPath]) -> Placed:
        """Also the files `names` (relative to the book folder), as they are now."""
        found = {name: identity(self.folder.joinpath(*name.parts)) for name in names}
        files = {**self.files, **{name: i for name, i in found.items() if i is not None}}
        return Placed(self.library_root, self.book_dir, files, self.created)


class Filing:
    """The importer's collaborators, wired once per process."""

    def __init__(
        self, settings: ImporterSettings, library: LibraryServer, publisher: Publisher
    ) -> None:
        self._settings = settings
        self._library = library
        self._publisher = publisher
        self._mappings = parse_mappings(settings.path_mappings)
        self._roots = settings.download_root_paths
        self._library_id: str | None = settings.abs_library_id
        self._target: Library | None = None

    async def file(self, event: ev.DownloadCompleted) -> None:
        """Import one download; publish how it went. Audiobookshelf being away or
        refusing the key is raised (see `shared.faults`), not published as a failure."""
        started = time.monotonic()
        p = event.payload
        correlation = event.correlation_id
        try:
            async with task_run(
                self._publisher, "IMPORT", producer_name=PRODUCER, correlation_id=correlation
            ) as run:
                run.processed = 1
                run.details["book"] = p.book.key
                try:
                    item, folder = await self._import(p)
                except ImportFailed as failure:
                    run.failed = 1
                    run.note(f"{p.book.title}: {failure}")
                    raise
                run.succeeded = 1
                run.note(f"{p.book.title}: Audiobookshelf item {item.id} at {folder}")
        except ImportFailed as failure:
            await self._failed(p, failure, correlation)
            return
        completed = ev.ImportCompletedPayload(
            book=p.book, abs_id=item.id, library_path=str(folder), info_hash=p.info_hash
        )
        await self._publisher.publish(
            ev.ImportCompleted.create(completed, producer=PRODUCER, correlation_id=correlation)
        )
        logger.info(
            "%s: imported as Audiobookshelf item %s at %s",
            p.book.key,
            item.id,
            folder,
            extra={
                "event": "import.completed",
                "abs_id": item.id,
                "library_path": str(folder),
                "info_hash": p.info_hash,
                "release": p.release_title,
                "seconds": round(time.monotonic() - started, 3),
                "since_download_s": round((ev.utc_now() - event.occurred_at).total_seconds(), 3),
            },
        )
        IMPORTS.labels("completed").inc()
        IMPORT_DURATION.observe(time.monotonic() - started)

    async def _import(self, p: ev.DownloadCompletedPayload) -> tuple[LibraryItem, Path]:
        library = await self._library_to_scan()
        content, placement = await asyncio.to_thread(_on_disk, self._plan, p)
        await self._prove(p.book, content, placement)
        placed = await asyncio.to_thread(_on_disk, self._placed, p, placement)
        try:
            item = await self._scanned(library, placed)
        except ImportFailed as failure:
            raise await asyncio.to_thread(_taken_back, placed, failure) from failure
        return item, placed.folder

    def _plan(self, p: ev.DownloadCompletedPayload) -> tuple[Path, Placement]:
        """The download's folder (mapped, confined) and the checked plan of its files."""
        content = confine(Path(map_path(p.content_path, self._mappings)), self._roots)
        plan = plan_placement(content, p.files, self._settings.library_root, book_folder(p.book))
        return content, plan

    async def _prove(self, book: ev.BookRef, content: Path, placement: Placement) -> None:
        """Refuse audio that does not decode or is not `book` (`ImportFailed` with one of
        `PROOF_CODES`); nothing is placed yet. ffmpeg runs as subprocesses, mutagen in
        worker threads: the loop is never blocked."""
        if not self._settings.proof_enabled:
            return
        audio = [move.source for move in placement.moves if move.source.suffix.lower() in AUDIO]
        try:
            heard = await hear(
                [(_shown(source, content), source) for source in audio],
                self._settings.proof_decode_timeout_seconds,
            )
        except DecoderMissing as missing:
            raise ImportFailed("PROOF_UNAVAILABLE", str(missing)) from missing
        except OSError as error:
            raise ImportFailed("FILESYSTEM_ERROR", f"{type(error).__name__}: {error}") from error
        refusal = verdict(book, heard, self._settings.runtime_tolerance)
        if refusal is not None:
            raise ImportFailed(refusal.code, refusal.reason)
        logger.info(
            "%s: the audio is the book (%d files)",
            book.key,
            len(audio),
            extra={"event": "import.proved", "files": len(audio)},
        )

    def _placed(self, p: ev.DownloadCompletedPayload, placement: Placement) -> Placed:
        relative = placement.book_dir
        mine = Claim(p.book.key, p.info_hash)
        earlier = earlier_claim(placement.library_root, relative, mine)
        claim = earlier or mine
        marker = Marker(
            MARKER, lambda created: claim_text(claim.with_created(created)), earlier is None
        )
        result = execute(placement, allow_copy=self._settings.allow_copy, marker=marker)
        created = claim.with_created(result.created_folders).created
        placed = Placed(placement.library_root, relative, {}, created).with_files(
            (*(move.relative for move in placement.moves), _MARKER)
        )
        try:
            write_sidecar(placement.folder, metadata_json(p.book))
        except OSError as error:
            failure = ImportFailed("FILESYSTEM_ERROR", f"{type(error).__name__}: {error}")
            raise _taken_back(placed, failure) from error
        return placed.with_files([_SIDECAR])

    async def _scanned(self, library: Library, placed: Placed) -> LibraryItem:
        patience = Patience(
            timeout_s=self._settings.item_timeout_seconds,
            watcher_grace_s=self._settings.abs_watcher_grace_seconds,
        )
        relative = str(placed.book_dir)
        try:
            return await arrival(
                self._library,
                library.id,
                relative,
                patience,
                watched=_server_paths(library, placed),
            )
        except NotArrived as missing:
            raise ImportFailed(missing.code, missing.reason, details=relative) from None
        except (AudiobookshelfError, HttpError) as error:
            if is_transient(error) or is_refused(error):
                raise
            raise ImportFailed("ABS_ERROR", str(error)) from error

    async def _library_to_scan(self) -> Library:
        """The library to file into (the configured one, else the first book library),
        looked up once: its id and, for the watcher, its folder as the server sees it."""
        if self._target is not None:
            return self._target
        try:
            books = [lib for lib in await self._library.libraries() if lib.media_type == "book"]
        except (AudiobookshelfError, HttpError) as error:
            if is_transient(error) or is_refused(error):
                raise
            raise ImportFailed("ABS_ERROR", str(error)) from error
        wanted = [lib for lib in books if self._library_id in (None, lib.id)]
        if not wanted:
            raise ImportFailed("ABS_NO_LIBRARY", "Audiobookshelf has no such book library")
        self._target = wanted[0]
        return self._target

    async def _failed(
        self, p: ev.DownloadCompletedPayload, failure: ImportFailed, correlation: Any
    ) -> None:
        details = _clipped(failure.details, DETAIL_CHARS)
        failed = ev.ImportFailedPayload(
            book=p.book,
            error_code=failure.code,
            reason=failure.reason[:500],
            details=details,
            info_hash=p.info_hash,
        )
        recorded = ev.FailureRecordedPayload(
            task_name="IMPORT",
            item_key=p.book.key,
            item_name=p.book.title,
            reason=failure.reason[:500],
            error_code=failure.code,
            error_details=details,
            details={"content_path": p.content_path, "files": _some(p.files, FILES_CHARS)},
        )
        events: list[ev.Event[Any]] = [
            ev.ImportFailed.create(failed, producer=PRODUCER, correlation_id=correlation),
            ev.FailureRecorded.create(recorded, producer=PRODUCER, correlation_id=correlation),
        ]
        blocklisted = failure.code in BLOCKLISTED and bool(p.info_hash)
        if blocklisted:
            blocked = ev.ReleaseBlocklistedPayload(
                book=p.book,
                info_hash=p.info_hash,
                guid=p.guid,
                indexer=p.source,
                release_title=p.release_title,
                stage=ev.BlockStage.IMPORT,
                reason_code=failure.code,
                reason=failure.reason[:500],
            )
            events.append(
                ev.ReleaseBlocklisted.create(blocked, producer=PRODUCER, correlation_id=correlation)
            )
        await self._publisher.publish_many(events)
        refused = failure.code in BLOCKLISTED
        logger.warning(
            "%s: import %s: %s",
            p.book.key,
            "refused" if refused else "failed",
            failure,
            extra={
                "event": "import.refused" if refused else "import.failed",
                "error_code": failure.code,
                "reason": failure.reason[:500],
                "release": p.release_title,
                "info_hash": p.info_hash,
                "indexer": p.source,
            },
        )
        IMPORTS.labels("failed").inc()
        if blocklisted:
            RELEASES_BLOCKLISTED.labels(ev.BlockStage.IMPORT.value).inc()


def _on_disk(work: Callable[_A, _R], *args: _A.args, **kwargs: _A.kwargs) -> _R:
    """`work`, its refusals and filesystem errors as failures of the import."""
    try:
        return work(*args, **kwargs)
    except (UnsafePathError, PlacementError) as error:
        raise ImportFailed(error.code, error.message) from error
    except OSError as error:
        raise ImportFailed("FILESYSTEM_ERROR", f"{type(error).__name__}: {error}") from error


def _shown(source: Path, content: Path) -> str:
    """A file's name as people see it in the download."""
    return str(source.relative_to(content)) if source.is_relative_to(content) else source.name


def _server_paths(library: Library, placed: Placed) -> list[str]:
    """The placed audio files as the server sees them (under its library folder)."""
    if not library.folders:
        return []
    base = PurePosixPath(library.folders[0][1]) / placed.book_dir
    return [str(base / name) for name in placed.files if name.suffix.lower() in AUDIO]


DETAIL_CHARS = 8_000
"""What a failure's details may hold (the contract's bound)."""
FILES_CHARS = 16_000
"""How much of the file list a failure quotes: enough to see what it was, well within
the contract's 64 KiB of details however long the names."""


def _clipped(text: str | None, limit: int) -> str | None:
    """`text`, cut to `limit` characters with a mark saying so."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 30] + f" … ({len(text) - limit + 30} more)"


def _some(files: list[str], budget: int) -> list[str]:
    """The first files whose names fit in `budget` characters (at least none)."""
    kept, used = [], 0
    for name in files[:50]:
        used += len(name)
        if used > budget:
            break
        kept.append(name)
    return kept


def _taken_back(placed: Placed, failure: ImportFailed) -> ImportFailed:
    """Remove what the import placed; the failure, its details saying what was left."""
    left = remove_placement(placed.library_root, placed.book_dir, placed.files, placed.created)
    if left:
        logger.warning(
            "after a failed import, left in the library: %s",
            "; ".join(left),
            extra={"event": "import.not_taken_back", "left": left},
        )
        outcome = "not everything this import placed could be removed: " + "; ".join(left)
    else:
        outcome = f"what this import placed in {placed.folder} was removed"
    details = f"{failure.details}; {outcome}" if failure.details else outcome
    return ImportFailed(failure.code, failure.reason, details)
