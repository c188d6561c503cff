"""Filing one completed download into the library, then making Audiobookshelf see it.

1. Map qBittorrent's path to ours (`path_mapping.py`).
2. Plan where every file goes under `<library>/<Author>/<Series>/Vol. N - Title/`
   (`layout.py`), refusing anything that would land outside the library (`placement.py`).
3. Hard-link the files (copy only if allowed and linking is impossible) and write the
   `metadata.json` sidecar (`sidecar.py`).
4. Ask Audiobookshelf to scan, wait for the scan, find the new item at that folder.

Success is an "import completed" with the item id; any failure an "import failed" and a
"failure recorded" with a code — the download stays seeding either way. Each import is
an IMPORT task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path, PurePosixPath
from typing import Any

from services.importer.layout import book_folder
from services.importer.path_mapping import map_path, parse_mappings
from services.importer.placement import PlacementError, UnsafePathError, execute, plan_placement
from services.importer.settings import ImporterSettings
from services.importer.sidecar import metadata_json, write_sidecar
from shared import events as ev
from shared.clients.audiobookshelf import AudiobookshelfClient, AudiobookshelfError, LibraryItem
from shared.http import HttpError
from shared.task_runs import Publisher, task_run

logger = logging.getLogger(__name__)

PRODUCER = "importer"
POLL_S = 0.5


class ImportFailed(Exception):  # noqa: N818  (an outcome, named as one)
    """The import failed; `code` says how."""

    def __init__(self, code: str, reason: str, details: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.details = details


class Filing:
    """The importer's collaborators, wired once per process."""

    def __init__(
        self, settings: ImporterSettings, library: AudiobookshelfClient, publisher: Publisher
    ) -> None:
        self._settings = settings
        self._library = library
        self._publisher = publisher
        self._mappings = parse_mappings(settings.path_mappings)
        self._library_id: str | None = settings.abs_library_id

    async def file(self, event: ev.DownloadCompleted) -> None:
        """Import one download; publish how it went."""
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

    async def _import(self, p: ev.DownloadCompletedPayload) -> tuple[LibraryItem, Path]:
        relative = book_folder(p.book)
        folder = await asyncio.to_thread(self._place, p, relative)
        library_id = await self._library_to_scan()
        try:
            await self._library.scan(library_id)
            await self._library.wait_for_scan(library_id, self._settings.scan_timeout_seconds)
            item = await self._find(library_id, relative)
        except (AudiobookshelfError, HttpError) as error:
            raise ImportFailed("ABS_UNAVAILABLE", str(error)) from error
        if item is None:
            raise ImportFailed(
                "ABS_ITEM_NOT_FOUND",
                "Audiobookshelf did not list the new folder after scanning it",
                details=str(relative),
            )
        return item, folder

    def _place(self, p: ev.DownloadCompletedPayload, relative: PurePosixPath) -> Path:
        """The filesystem part, in a worker thread."""
        content_root = Path(map_path(p.content_path, self._mappings))
        root = self._settings.library_root
        try:
            placement = plan_placement(content_root, p.files, root, relative)
            execute(placement, allow_copy=self._settings.allow_copy)
            folder = root / relative
            write_sidecar(folder, metadata_json(p.book))
        except (UnsafePathError, PlacementError) as error:
            raise ImportFailed(error.code, str(error)) from error
        except OSError as error:
            raise ImportFailed("FILESYSTEM_ERROR", f"{type(error).__name__}: {error}") from error
        return folder

    async def _library_to_scan(self) -> str:
        if self._library_id is None:
            try:
                books = [lib for lib in await self._library.libraries() if lib.media_type == "book"]
            except (AudiobookshelfError, HttpError) as error:
                raise ImportFailed("ABS_UNAVAILABLE", str(error)) from error
            if not books:
                raise ImportFailed("ABS_NO_LIBRARY", "Audiobookshelf has no book library")
            self._library_id = books[0].id
        return self._library_id

    async def _find(self, library_id: str, relative: PurePosixPath) -> LibraryItem | None:
        deadline = time.monotonic() + self._settings.item_timeout_seconds
        while True:
            item = await self._library.find_item_by_rel_path(library_id, str(relative))
            if item is not None or time.monotonic() > deadline:
                return item
            await asyncio.sleep(POLL_S)  # polling Audiobookshelf, bounded by the deadline

    async def _failed(
        self, p: ev.DownloadCompletedPayload, failure: ImportFailed, correlation: Any
    ) -> None:
        failed = ev.ImportFailedPayload(
            book=p.book,
            error_code=failure.code,
            reason=failure.reason[:500],
            details=failure.details,
            info_hash=p.info_hash,
        )
        recorded = ev.FailureRecordedPayload(
            task_name="IMPORT",
            item_key=p.book.key,
            item_name=p.book.title,
            reason=failure.reason[:500],
            error_code=failure.code,
            error_details=failure.details,
            details={"content_path": p.content_path, "files": p.files[:50]},
        )
        await self._publisher.publish_many(
            [
                ev.ImportFailed.create(failed, producer=PRODUCER, correlation_id=correlation),
                ev.FailureRecorded.create(recorded, producer=PRODUCER, correlation_id=correlation),
            ]
        )
        logger.warning("import of %s failed: %s", p.book.key, failure)
