"""What each event means for the tables: pure rules over `Entity` state, no IO.

`touches(event)` names the entities an event needs (so the store can lock and load them
in one go); `project(event, view)` applies the event to them. Every rule uses only the
order-insensitive merges of `entities`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.recorder.entities import Authority, Entity, Kind, Stamps
from shared import events as ev
from shared.completeness import completeness, library_columns

STUB, FACT = Authority.STUB, Authority.FACT

# Column groups: each is set as a whole by the newest event that writes it.
BOOK_LIBRARY = (
    "title", "author", "series", "series_number", "isbn", "asin", "publisher",
    "published_year", "duration_minutes", "description", "metadata_completeness_percent",
)  # fmt: skip
BOOK_PRESENCE = ("status",)
BOOK_ORIGIN = ("import_source",)
SERIES_ASSESSMENT = (
    "author", "asin", "total_books_in_series", "books_owned", "books_missing",
    "completion_percentage", "completion_status", "last_completion_check",
)  # fmt: skip
AUTHOR_ASSESSMENT = (
    "asin", "goodreads_id", "total_audiobooks_external", "audiobooks_owned",
    "audiobooks_missing", "completion_status", "last_completion_check",
)  # fmt: skip
MISSING_IDENTITY = (
    "title", "author_name", "series_name", "series_number", "asin", "expectations",
)  # fmt: skip
MISSING_GAP = (
    "reason_missing", "priority", "isbn", "goodreads_id", "confidence", "evidence",
)  # fmt: skip
MISSING_STATUS = ("download_status",)
DOWNLOAD_RELEASE = (
    "title", "author", "source", "magnet_link", "torrent_url", "release_guid", "selection",
)  # fmt: skip
DOWNLOAD_STATUS = ("status", "next_retry")
DOWNLOAD_PROGRESS = (
    "progress", "downloaded_bytes", "size_bytes", "speed_bytes_per_second", "eta_seconds",
    "seeders", "leechers", "progress_at",
)  # fmt: skip
DOWNLOAD_IMPORT = ("abs_import_status", "abs_import_error")
TASK_START = ("task_name", "scheduled_time", "actual_start")
TASK_OUTCOME = (
    "status", "actual_end", "items_processed", "items_succeeded", "items_failed",
    "log_output", "error_message", "metadata",
)  # fmt: skip
FAILURE_LATEST = ("item_name", "reason", "error_details")
BLOCKED_LATEST = (
    "info_hash", "guid", "indexer", "release_title", "stage", "reason_code", "reason",
)  # fmt: skip

INSTANCE_STATE = (
    "service", "hostname", "pid", "version", "started_at", "interval_seconds", "ready",
    "readiness",
)  # fmt: skip

UNKNOWN_TITLE = "(unknown title)"
IN_TRANSFER = "downloading"
"""A status no event sets: derived from "queued" by `_transfer`."""


@dataclass(frozen=True)
class Correction:
    """A metadata_corrections row to append."""

    abs_id: str
    field_name: str
    old_value: str | None
    new_value: str | None
    source: str
    reason: str | None
    corrected_by: str
    correction_date: datetime
    correction_id: uuid.UUID | None = None
    status: str | None = None


@dataclass
class View:
    """The entities of one batch, by kind and natural key, plus rows to append."""

    entities: dict[tuple[Kind, str], Entity] = field(default_factory=dict)
    corrections: list[Correction] = field(default_factory=list)
    allowed: set[tuple[Kind, str]] | None = None  # what the store locked and loaded

    def get(self, kind: Kind, key: str) -> Entity:
        """The entity, created empty if the store had none."""
        found = self.entities.get((kind, key))
        if found is None:
            if self.allowed is not None and (kind, key) not in self.allowed:
                raise KeyError(f"{kind} {key!r} was not declared by touches(): not loaded")
            found = self.entities[(kind, key)] = Entity(kind, key)
        return found


class Rule(Protocol):
    """Applies one event type to the view."""

    def __call__(self, event: Any, view: View, at: Stamps) -> None: ...


class UnapplicableEventError(ValueError):
    """An event that can never be consistent with the record (dead-lettered)."""


# ----------------------------------------------------------------------------- helpers


def failure_key(task_name: str, item_key: str, error_code: str) -> str:
    """The natural key of a failed_attempts row."""
    return f"{task_name}|{item_key}|{error_code}"


def blocked_key(book_key: str, release_key: str) -> str:
    """The natural key of a blocked_releases row (book keys hold no newline)."""
    return f"{book_key}\n{release_key}"


def book_of_blocked_key(key: str) -> str:
    """The book key inside a blocked release's key."""
    return key.split("\n", 1)[0]


def item_of_failure_key(key: str) -> str:
    """The item key inside a failure key (task names and error codes hold no `|`)."""
    return key.split("|", 1)[1].rsplit("|", 1)[0]


def _missing(view: View, book: ev.BookRef, at: Stamps, authority: Authority) -> Entity:
    """The gap a book event is about, created with placeholders if not identified yet."""
    missing = view.get(Kind.MISSING, book.key)
    stamp = at.by(authority)
    if missing.wants("identity", stamp):
        missing.assign(
            "identity",
            stamp,
            MISSING_IDENTITY,
            title=book.title,
            author_name=book.author,
            series_name=book.series,
            series_number=book.series_number,
            asin=book.asin,
            expectations=book.expected.model_dump(mode="json") if book.expected else None,
        )
        missing.refer("series_ref", stamp, "series", book.series)
        missing.refer("author_ref", stamp, "author", book.author)
    # Placeholders, for a gap seen first through its download; the real values win.
    if missing.wants("gap", at.stub):
        missing.assign(
            "gap", at.stub, MISSING_GAP,
            reason_missing="unknown", priority=1, isbn=None, goodreads_id=None,
            confidence=None, evidence=None,
        )  # fmt: skip
    if missing.wants("status", at.stub):
        missing.assign("status", at.stub, MISSING_STATUS, download_status="identified")
    missing.lower_to("identified_date", at.when)
    for kind, name in ((Kind.SERIES, book.series), (Kind.AUTHOR, book.author)):
        if name:
            view.get(kind, name)
    return missing


def _download(view: View, book: ev.BookRef, at: Stamps) -> Entity:
    """The download of a book, created with placeholders if its queueing is not seen yet
    (the caller has already made sure the gap exists)."""
    download = view.get(Kind.DOWNLOAD, book.key)
    if download.wants("release", at.stub):
        download.assign(
            "release", at.stub, DOWNLOAD_RELEASE,
            title=book.title, author=book.author, source="unknown",
            magnet_link=None, torrent_url=None, release_guid=None, selection={},
        )  # fmt: skip
    if download.wants("status", at.stub):
        download.assign("status", at.stub, DOWNLOAD_STATUS, status="queued", next_retry=None)
    download.lower_to("date_queued", at.when)
    return download


def _set_status(
    view: View,
    book: ev.BookRef,
    at: Stamps,
    missing: str,
    download: str | None,
    next_retry: datetime | None = None,
) -> Entity:
    """Move the gap (and the download, if given) to a lifecycle status."""
    stamp = at.fact
    _missing(view, book, at, STUB).assign("status", stamp, MISSING_STATUS, download_status=missing)
    entity = _download(view, book, at)
    if download is not None:
        entity.assign("status", stamp, DOWNLOAD_STATUS, status=download, next_retry=next_retry)
    return entity


def _lifecycle(status: str | None) -> str | None:
    """The status the download's (or gap's) lifecycle events set: "downloading" is only
    ever derived, from "queued"."""
    return "queued" if status == IN_TRANSFER else status


def _transfer(view: View, book: ev.BookRef) -> None:
    """A queued download that qBittorrent reported on since (its progress sample is newer
    than its newest lifecycle event) is "downloading", and so is its gap unless something
    newer happened to the gap.

    Derived from the merged versions alone, so it does not depend on the order events
    arrive in; and however new a sample is, it never makes a completed, failed or
    abandoned download "downloading" again (a retry starts with a new "queued")."""
    download = view.get(Kind.DOWNLOAD, book.key)
    lifecycle = download.versions.get("status")
    sampled = download.versions.get("progress")
    status = _lifecycle(download.columns.get("status"))
    moving = (
        status == "queued" and lifecycle is not None and sampled is not None and sampled > lifecycle
    )
    download.derive("status", IN_TRANSFER if moving else status)
    missing = view.get(Kind.MISSING, book.key)
    gap = missing.versions.get("status")
    if gap is not None and lifecycle is not None and gap <= lifecycle:
        stored = _lifecycle(missing.columns.get("download_status"))
        missing.derive("download_status", IN_TRANSFER if moving else stored)


def _hash(entity: Entity, at: Stamps, info_hash: str | None) -> None:
    if info_hash:
        entity.assign("hash", at.fact, ("qbittorrent_hash",), qbittorrent_hash=info_hash)


def _book_stub(view: View, abs_id: str, title: str, at: Stamps) -> Entity:
    book = view.get(Kind.BOOK, abs_id)
    stamp = at.stub
    columns = dict.fromkeys(BOOK_LIBRARY, None) | {"title": title}
    columns["metadata_completeness_percent"] = completeness(columns)
    book.assign("library", stamp, BOOK_LIBRARY, **columns)
    book.assign("presence", stamp, BOOK_PRESENCE, status="active")
    book.assign("origin", stamp, BOOK_ORIGIN, import_source="user_import")
    return book


# -------------------------------------------------------------------------------- rules


def book_discovered(event: ev.BookDiscovered, view: View, at: Stamps) -> None:
    """A library item: the book's metadata, its series and authors exist."""
    p = event.payload
    stamp = at.fact
    columns = library_columns(p)
    columns["metadata_completeness_percent"] = completeness(columns)
    book = view.get(Kind.BOOK, p.abs_id)
    book.assign("library", stamp, BOOK_LIBRARY, **columns)
    book.assign("presence", stamp, BOOK_PRESENCE, status="active")
    stub = at.stub
    book.assign("origin", stub, BOOK_ORIGIN, import_source=p.import_source)
    for series in p.series:
        view.get(Kind.SERIES, series.name)
    for author in p.authors:
        view.get(Kind.AUTHOR, author)


def book_removed(event: ev.BookRemoved, view: View, at: Stamps) -> None:
    """A library item went away: the book is archived, its history kept."""
    p = event.payload
    book = _book_stub(view, p.abs_id, p.title or UNKNOWN_TITLE, at)
    stamp = at.fact
    book.assign("presence", stamp, BOOK_PRESENCE, status="archived")


def series_assessed(event: ev.SeriesAssessed, view: View, at: Stamps) -> None:
    """The series' size in the catalogue and how much of it is owned."""
    p = event.payload
    percent = round(100 * p.books_owned / p.total_books_in_series) if p.total_books_in_series else 0
    view.get(Kind.SERIES, p.name).assign(
        "assessment",
        at.fact,
        SERIES_ASSESSMENT,
        author=p.author,
        asin=p.asin,
        total_books_in_series=p.total_books_in_series,
        books_owned=p.books_owned,
        books_missing=p.books_missing,
        completion_percentage=min(percent, 100),
        completion_status=p.completion_status.value,
        last_completion_check=p.checked_at,
    )


def author_assessed(event: ev.AuthorAssessed, view: View, at: Stamps) -> None:
    """The author's catalogue size and how much of it is owned."""
    p = event.payload
    view.get(Kind.AUTHOR, p.name).assign(
        "assessment",
        at.fact,
        AUTHOR_ASSESSMENT,
        asin=p.asin,
        goodreads_id=p.goodreads_id,
        total_audiobooks_external=p.total_audiobooks_external,
        audiobooks_owned=p.audiobooks_owned,
        audiobooks_missing=p.audiobooks_missing,
        completion_status=p.completion_status.value,
        last_completion_check=p.checked_at,
    )


def metadata_corrected(event: ev.MetadataCorrected, view: View, at: Stamps) -> None:
    """Append this step of the correction to the book's history."""
    p = event.payload
    _book_stub(view, p.abs_id, UNKNOWN_TITLE, at)
    view.corrections.append(
        Correction(
            abs_id=p.abs_id,
            field_name=p.field_name,
            old_value=p.old_value,
            new_value=p.new_value,
            source=p.source,
            reason=p.reason,
            corrected_by=p.corrected_by,
            correction_date=event.occurred_at,
            correction_id=p.correction_id,
            status=p.status.value,
        )
    )


def _wanted(
    event: ev.MissingBookIdentified | ev.BookRequested, view: View, at: Stamps, reason: str
) -> None:
    p = event.payload
    if getattr(p, "needs_review", False) or isinstance(event, ev.BookRequested):
        # Placeholder statuses (set before `_missing` sets its own, "identified", with the
        # same version): a gap for review is "needs_review" until someone asks for it
        # ("identified" again, the newer placeholder); whatever then happens to the
        # download is a fact and wins, in any order.
        status = "identified" if isinstance(event, ev.BookRequested) else "needs_review"
        view.get(Kind.MISSING, p.book.key).assign(
            "status", at.stub, MISSING_STATUS, download_status=status
        )
    missing = _missing(view, p.book, at, FACT)
    isbn = getattr(p, "isbn", None)
    goodreads_id = getattr(p, "goodreads_id", None)
    missing.assign(
        "gap", at.fact, MISSING_GAP,
        reason_missing=reason, priority=p.priority, isbn=isbn, goodreads_id=goodreads_id,
        confidence=getattr(p, "confidence", None), evidence=getattr(p, "evidence", None),
    )  # fmt: skip


def missing_book_identified(event: ev.MissingBookIdentified, view: View, at: Stamps) -> None:
    """A gap: created once per book key, whatever how often it is identified again."""
    _wanted(event, view, at, event.payload.reason_missing.value)


def book_requested(event: ev.BookRequested, view: View, at: Stamps) -> None:
    """An explicit request: recorded as a gap with reason `requested`."""
    _wanted(event, view, at, "requested")


def download_queued(event: ev.DownloadQueued, view: View, at: Stamps) -> None:
    """A release was added to qBittorrent."""
    p = event.payload
    download = _set_status(view, p.book, at, missing="queued", download="queued")
    stamp = at.fact
    download.assign(
        "release", stamp, DOWNLOAD_RELEASE,
        title=p.book.title, author=p.book.author, source=p.source,
        magnet_link=p.magnet_link.get_secret_value() if p.magnet_link else None,
        torrent_url=p.torrent_url.get_secret_value() if p.torrent_url else None,
        release_guid=p.guid, selection=p.selection,
    )  # fmt: skip
    download.assign("budget", stamp, ("max_retries",), max_retries=p.max_retries)
    # A new release: its progress starts afresh (an older release's samples lose to this).
    download.assign(
        "progress", stamp, DOWNLOAD_PROGRESS,
        **dict.fromkeys(DOWNLOAD_PROGRESS) | {"size_bytes": p.size_bytes},
    )  # fmt: skip
    download.raise_to("last_attempt", event.occurred_at)
    _hash(download, at, p.info_hash)
    _transfer(view, p.book)


def download_progressed(event: ev.DownloadProgressed, view: View, at: Stamps) -> None:
    """qBittorrent's latest sample of the transfer (the newest sample wins); a queued
    download is then "downloading" (see `_transfer`)."""
    p = event.payload
    _missing(view, p.book, at, STUB)
    download = _download(view, p.book, at)
    stamp = at.fact
    download.assign("qbt", stamp, ("qbittorrent_status",), qbittorrent_status=p.qbittorrent_status)
    download.assign(
        "progress", stamp, DOWNLOAD_PROGRESS,
        progress=p.progress, downloaded_bytes=p.downloaded_bytes, size_bytes=p.size_bytes,
        speed_bytes_per_second=p.speed_bytes_per_second, eta_seconds=p.eta_seconds,
        seeders=p.seeders, leechers=p.leechers, progress_at=event.occurred_at,
    )  # fmt: skip
    _hash(download, at, p.info_hash)
    _transfer(view, p.book)


def download_completed(event: ev.DownloadCompleted, view: View, at: Stamps) -> None:
    """The transfer finished; the import is pending."""
    p = event.payload
    download = _set_status(view, p.book, at, missing="completed", download="completed")
    stamp = at.fact
    download.assign("qbt", stamp, ("qbittorrent_status",), qbittorrent_status="completed")
    download.assign("completion", stamp, ("date_completed",), date_completed=event.occurred_at)
    pending = at.stub
    download.assign(
        "import", pending, DOWNLOAD_IMPORT, abs_import_status="pending", abs_import_error=None
    )
    _hash(download, at, p.info_hash)


def download_failed(event: ev.DownloadFailed, view: View, at: Stamps) -> None:
    """An attempt failed; the retry decision says when the next one is due."""
    p = event.payload
    download = _set_status(
        view, p.book, at, missing="failed", download="failed", next_retry=p.retry.next_retry_at
    )
    stamp = at.fact
    download.assign("budget", stamp, ("max_retries",), max_retries=p.retry.max_retries)
    download.raise_to("retry_count", p.retry.retry_count)
    download.raise_to("last_attempt", event.occurred_at)
    if p.source:
        _release_source_stub(download, p.book, at, p.source)
    _hash(download, at, p.info_hash)


def _release_source_stub(download: Entity, book: ev.BookRef, at: Stamps, source: str) -> None:
    download.assign(
        "release", at.stub, DOWNLOAD_RELEASE,
        title=book.title, author=book.author, source=source, magnet_link=None, torrent_url=None,
        release_guid=None, selection={},
    )  # fmt: skip


def download_abandoned(event: ev.DownloadAbandoned, view: View, at: Stamps) -> None:
    """The last retry failed: the download is given up."""
    p = event.payload
    download = _set_status(view, p.book, at, missing="failed", download="abandoned")
    download.raise_to("retry_count", p.retry_count)
    download.raise_to("last_attempt", event.occurred_at)


def import_completed(event: ev.ImportCompleted, view: View, at: Stamps) -> None:
    """The book is in Audiobookshelf: link the gap and the download to it."""
    p = event.payload
    download = _set_status(view, p.book, at, missing="imported", download=None)
    stamp = at.fact
    download.assign(
        "import", stamp, DOWNLOAD_IMPORT, abs_import_status="imported", abs_import_error=None
    )
    download.refer("book_ref", stamp, "book", p.abs_id)
    view.get(Kind.MISSING, p.book.key).refer("book_ref", stamp, "book", p.abs_id)
    book = _book_stub(view, p.abs_id, p.book.title, at)
    book.assign("origin", stamp, BOOK_ORIGIN, import_source="abauto")
    _hash(download, at, p.info_hash)


def import_failed(event: ev.ImportFailed, view: View, at: Stamps) -> None:
    """Placing the files or the library scan failed."""
    p = event.payload
    download = _set_status(view, p.book, at, missing="failed", download=None)
    error = p.reason if not p.details else f"{p.reason}: {p.details}"
    stamp = at.fact
    download.assign(
        "import", stamp, DOWNLOAD_IMPORT, abs_import_status="import_failed", abs_import_error=error
    )
    _hash(download, at, p.info_hash)


def release_blocklisted(event: ev.ReleaseBlocklisted, view: View, at: Stamps) -> None:
    """A release failed for a book: one row per (book, release), the latest cause wins,
    occurrences counted."""
    p = event.payload
    _missing(view, p.book, at, STUB)
    blocked = view.get(Kind.BLOCKED, blocked_key(p.book.key, p.release_key))
    stamp = at.fact
    blocked.assign(
        "latest", stamp, BLOCKED_LATEST,
        info_hash=p.info_hash.lower() if p.info_hash else None, guid=p.guid, indexer=p.indexer,
        release_title=p.release_title, stage=p.stage.value, reason_code=p.reason_code,
        reason=p.reason,
    )  # fmt: skip
    blocked.refer("gap", stamp, "missing", p.book.key)
    blocked.count("block_count")
    blocked.lower_to("first_blocked_at", event.occurred_at)
    blocked.raise_to("last_blocked_at", event.occurred_at)


def blocklist_cleared(event: ev.BlocklistCleared, view: View, at: Stamps) -> None:
    """Releases blocklisted for the book before now may be taken again (rows stay)."""
    missing = _missing(view, event.payload.book, at, STUB)
    missing.raise_to("blocklist_cleared_at", event.occurred_at)


def task_started(event: ev.TaskStarted, view: View, at: Stamps) -> None:
    """A job run began: its row exists and is running unless it already finished."""
    p = event.payload
    task = _task(view, p.run_id, p.task_name)
    stamp = at.fact
    task.assign(
        "start", stamp, TASK_START,
        task_name=p.task_name, scheduled_time=p.scheduled_time, actual_start=p.started_at,
    )  # fmt: skip
    task.assign(
        "outcome", at.stub, TASK_OUTCOME,
        status="running", actual_end=None, items_processed=0, items_succeeded=0,
        items_failed=0, log_output=None, error_message=None, metadata={},
    )  # fmt: skip


def task_finished(event: ev.TaskFinished, view: View, at: Stamps) -> None:
    """A job run ended: status, counts, log and error."""
    p = event.payload
    task = _task(view, p.run_id, p.task_name)
    task.assign(
        "outcome", at.fact, TASK_OUTCOME,
        status=p.outcome.value, actual_end=p.finished_at, items_processed=p.items_processed,
        items_succeeded=p.items_succeeded, items_failed=p.items_failed,
        log_output=p.log_output, error_message=p.error_message, metadata=p.details,
    )  # fmt: skip


def _task(view: View, run_id: Any, task_name: str) -> Entity:
    task = view.get(Kind.TASK, str(run_id))
    known = task.columns.get("task_name")
    if known is not None and known != task_name:
        raise UnapplicableEventError(f"run {run_id} is a {known} task, not {task_name}")
    task.ensure(task_name=task_name)
    return task


def failure_recorded(event: ev.FailureRecorded, view: View, at: Stamps) -> None:
    """One more occurrence of a (task, item, error) failure; never deleted."""
    p = event.payload
    failure = view.get(Kind.FAILURE, failure_key(p.task_name, p.item_key, p.error_code))
    failure.ensure(task_name=p.task_name, item_key=p.item_key, error_code=p.error_code)
    failure.count("attempt_count")
    failure.lower_to("first_attempt", event.occurred_at)
    failure.raise_to("last_attempt", event.occurred_at)
    stamp = at.fact
    failure.assign(
        "latest", stamp, FAILURE_LATEST,
        item_name=p.item_name, reason=p.reason, error_details=p.error_details,
    )  # fmt: skip
    for name, value in p.details.items():
        failure.assign_entry("metadata", stamp, name, value)


def heartbeat_sent(event: ev.HeartbeatSent, view: View, at: Stamps) -> None:
    """A service process is alive: when it was first and last seen (only ever forward),
    and the newest heartbeat's readiness."""
    p = event.payload
    instance = view.get(Kind.INSTANCE, p.instance_id)
    instance.assign(
        "state", at.fact, INSTANCE_STATE,
        service=p.service, hostname=p.hostname, pid=p.pid, version=p.version,
        started_at=p.started_at, interval_seconds=p.interval_seconds, ready=p.ready,
        readiness={"checks": p.checks, "unavailable": p.unavailable, "refused": p.refused},
    )  # fmt: skip
    instance.lower_to("first_seen_at", event.occurred_at)
    instance.raise_to("last_seen_at", event.occurred_at)
    if p.stopping:
        instance.raise_to("stopped_at", event.occurred_at)


RULES: dict[type[ev.Event[Any]], Rule] = {
    ev.BookDiscovered: book_discovered,
    ev.BookRemoved: book_removed,
    ev.SeriesAssessed: series_assessed,
    ev.AuthorAssessed: author_assessed,
    ev.MetadataCorrected: metadata_corrected,
    ev.MissingBookIdentified: missing_book_identified,
    ev.BookRequested: book_requested,
    ev.DownloadQueued: download_queued,
    ev.DownloadProgressed: download_progressed,
    ev.DownloadCompleted: download_completed,
    ev.DownloadFailed: download_failed,
    ev.DownloadAbandoned: download_abandoned,
    ev.ReleaseBlocklisted: release_blocklisted,
    ev.BlocklistCleared: blocklist_cleared,
    ev.ImportCompleted: import_completed,
    ev.ImportFailed: import_failed,
    ev.TaskStarted: task_started,
    ev.TaskFinished: task_finished,
    ev.FailureRecorded: failure_recorded,
    ev.HeartbeatSent: heartbeat_sent,
}


def project(event: ev.Event[Any], view: View) -> None:
    """Apply one event to the view."""
    rule = RULES.get(type(event))
    if rule is None:  # a command sent to a domain topic by mistake
        raise UnapplicableEventError(f"{event.event_type} is not a fact the recorder keeps")
    rule(event, view, Stamps.of(event.occurred_at, event.event_id))


def _book_keys(book: ev.BookRef) -> list[tuple[Kind, str]]:
    keys = [(Kind.MISSING, book.key), (Kind.DOWNLOAD, book.key)]
    if book.series:
        keys.append((Kind.SERIES, book.series))
    if book.author:
        keys.append((Kind.AUTHOR, book.author))
    return keys


def _discovered_keys(p: ev.BookDiscoveredPayload) -> list[tuple[Kind, str]]:
    return [
        (Kind.BOOK, p.abs_id),
        *((Kind.SERIES, s.name) for s in p.series),
        *((Kind.AUTHOR, a) for a in p.authors),
    ]


def _failure_keys(p: ev.FailureRecordedPayload) -> list[tuple[Kind, str]]:
    return [(Kind.FAILURE, failure_key(p.task_name, p.item_key, p.error_code))]


TOUCHES: dict[type[ev.Event[Any]], Callable[[Any], list[tuple[Kind, str]]]] = {
    ev.BookDiscovered: _discovered_keys,
    ev.BookRemoved: lambda p: [(Kind.BOOK, p.abs_id)],
    ev.SeriesAssessed: lambda p: [(Kind.SERIES, p.name)],
    ev.AuthorAssessed: lambda p: [(Kind.AUTHOR, p.name)],
    ev.MetadataCorrected: lambda p: [(Kind.BOOK, p.abs_id)],
    ev.ImportCompleted: lambda p: [*_book_keys(p.book), (Kind.BOOK, p.abs_id)],
    ev.ReleaseBlocklisted: lambda p: [
        *_book_keys(p.book),
        (Kind.BLOCKED, blocked_key(p.book.key, p.release_key)),
    ],
    ev.TaskStarted: lambda p: [(Kind.TASK, str(p.run_id))],
    ev.TaskFinished: lambda p: [(Kind.TASK, str(p.run_id))],
    ev.FailureRecorded: _failure_keys,
    ev.HeartbeatSent: lambda p: [(Kind.INSTANCE, p.instance_id)],
}


def touches(event: ev.Event[Any]) -> list[tuple[Kind, str]]:
    """The entities `project(event)` may read, so the store can lock and load them first."""
    keys = TOUCHES.get(type(event))
    if keys is not None:
        return keys(event.payload)
    return _book_keys(event.payload.book) if type(event) in RULES else []
