"""The event contracts: every fact the services exchange, as versioned pydantic models.

Each message on a topic is one `Event` envelope::

    {"event_id": "<uuid>", "event_type": "download.completed", "schema_version": 1,
     "occurred_at": "2026-11-23T10:00:00Z", "producer": "downloader",
     "correlation_id": "<uuid>", "key": "asin:B0BOOK3", "payload": {...}}

`key` is the Kafka message key: a stable natural key, so that one book's events keep
their order within a topic. `correlation_id` follows one book from discovery to import.
An event type's payload only changes shape with a new `schema_version`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar, Union

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    SecretStr,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from shared import topics
from shared.text import author_key, key_text, series_key

# A URL that may embed an indexer API key or passkey: masked in reprs and logs,
# written in full only into the event's JSON.
SecretUrl = Annotated[
    SecretStr, PlainSerializer(lambda value: value.get_secret_value(), when_used="json")
]
Priority = Annotated[int, Field(ge=1, le=3, description="1 high, 2 medium, 3 low")]

# Every field is bounded (the rule: whatever a message holds, no consumer can be stopped
# by it, and whatever a consumer derives from it still fits in one Kafka message).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
"""A count, as PostgreSQL's `integer` holds it."""
ByteCount = Annotated[int, Field(ge=0, le=INT64_MAX)]
"""A size in bytes, as PostgreSQL's `bigint` holds it."""
Name = Annotated[str, Field(max_length=500)]
"""A title, a person's or a series' name."""
FilePath = Annotated[str, Field(min_length=1, max_length=4096)]
"""A path, as long as Linux allows (PATH_MAX)."""
LongText = Annotated[str, Field(max_length=65_536)]
"""A description, a log: long, but bounded."""
Detail = Annotated[str, Field(max_length=8_000)]
"""An error's details."""

MAX_EVENT_BYTES = 512 * 1024
"""No event is sent or accepted above this size: a dead letter that carries one, or a
failure event that quotes one, still fits under Kafka's 1 MiB message limit."""
MAX_DETAILS_BYTES = 64 * 1024
MAX_DETAILS_DEPTH = 8


_ZERO = timedelta(0)


def utc_now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


MAX_KEY_LENGTH = 600
"""Natural keys are stored in `varchar(600)` columns."""


def book_key(*, title: str, author: str | None, asin: str | None) -> str:
    """The natural key of a wanted book: its ASIN when known, else author and title
    (a key too long to store ends in a digest of the whole, so it stays unique)."""
    if asin:
        return f"asin:{asin.strip().upper()}"
    key = f"book:{key_text(author or '')}/{key_text(title)}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: MAX_KEY_LENGTH - 34]}#{digest}"


def _bounded_json(value: object, depth: int = 0) -> None:
    """Refuse JSON that PostgreSQL's jsonb or our encoders cannot hold: integers beyond
    64 bits, non-finite numbers, nesting deeper than `MAX_DETAILS_DEPTH`."""
    if depth > MAX_DETAILS_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DETAILS_DEPTH} levels")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if not -INT64_MAX - 1 <= value <= INT64_MAX:
            raise ValueError("an integer beyond 64 bits")
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a number that is not finite")
    elif isinstance(value, list):
        for item in value:
            _bounded_json(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _bounded_json(item, depth + 1)


def _checked_details(value: dict[str, Any]) -> dict[str, Any]:
    _bounded_json(value)
    try:
        size = len(json.dumps(value))
    except (TypeError, ValueError) as error:
        raise ValueError(f"not JSON: {error}") from None
    if size > MAX_DETAILS_BYTES:
        raise ValueError(f"{size} bytes of details, more than {MAX_DETAILS_BYTES}")
    return value


Details = Annotated[dict[str, Any], AfterValidator(_checked_details)]
"""Free-form facts, as a JSON object: bounded in size, depth and number range."""


class Contract(BaseModel):
    """Base of every payload: immutable. Unknown fields are ignored, not refused, so a
    producer one release ahead (a new optional field) does not break this consumer; see
    "Evolution" in docs/events.md."""

    model_config = ConfigDict(frozen=True, extra="ignore", use_attribute_docstrings=True)


# ---------------------------------------------------------------------------- shared parts


class CompletionStatus(StrEnum):
    """How much of a series or an author's catalogue the library holds."""

    COMPLETE = "complete"
    PARTIAL = "partial"
    INCOMPLETE = "incomplete"


class MissingReason(StrEnum):
    """Why a book is wanted."""

    SERIES_GAP = "series_gap"
    AUTHOR_GAP = "author_gap"


class CorrectionStatus(StrEnum):
    """Where one metadata correction stands: a step of its life."""

    PROPOSED = "proposed"
    """Found (the library differs from the source), not written to the library."""
    APPLIED = "applied"
    """Written to the library."""
    REVERTED = "reverted"
    """Written back: the library holds the old value again."""


class TaskOutcome(StrEnum):
    """How a job run ended."""

    COMPLETED = "completed"
    FAILED = "failed"


class Expectations(Contract):
    """What the wanted book is like, as the catalogue and the owned series say: the
    downloader chooses a release by it and the importer proves the audio against it
    before filing. Every field is optional: what is unknown is not checked."""

    runtime_minutes: Count | None = None
    """The catalogue's running time of the unabridged book, in minutes."""
    language: str | None = Field(default=None, max_length=50)
    """The book's language, as the catalogue names it ("english", "german")."""
    abridged: bool | None = None
    """True only when an abridged edition is what is wanted."""
    narrators: list[Name] = Field(default_factory=list, max_length=20)
    """The narrators to prefer: those of the owned books of the series, else the
    catalogue's."""


class BookRef(Contract):
    """Which book a wanted/download/import event is about."""

    title: str = Field(min_length=1, max_length=500)
    """Title of the book, without series or subtitle."""
    author: str | None = Field(default=None, max_length=500)
    """Main author, as a display name."""
    asin: str | None = Field(default=None, max_length=50)
    """Audible ASIN, when known: the surest key."""
    series: str | None = Field(default=None, max_length=500)
    """Series name, when part of one (a gap of an owned series: as the library names it)."""
    series_number: str | None = Field(default=None, max_length=50)
    """Position in the series as text: "3", "0.5", "1-3"."""
    expected: Expectations | None = None
    """What the book is like (runtime, language, edition, narrators), when known; not
    part of its identity."""

    @cached_property
    def key(self) -> str:
        """This book's natural key (see `book_key`), computed once per instance."""
        return book_key(title=self.title, author=self.author, asin=self.asin)


class SeriesPosition(Contract):
    """A series a library book belongs to, with its position text ("1", "0.5", "1-3")."""

    name: str = Field(min_length=1, max_length=500)
    """Series name."""
    sequence: str | None = Field(default=None, max_length=50)
    """Position in the series as text: "1", "0.5", "1-3"."""


class RetryInfo(Contract):
    """Where a failed download stands in its retry budget."""

    retry_count: Count
    """Attempts failed so far."""
    max_retries: Count
    """Attempts allowed before the download is abandoned."""
    will_retry: bool
    """Whether another attempt is scheduled."""
    next_retry_at: AwareDatetime | None = None
    """When the next attempt is due (UTC), if any."""


# --------------------------------------------------------------------------------- payloads


class BookDiscoveredPayload(Contract):
    """A book present in the Audiobookshelf library, as the library describes it."""

    abs_id: str = Field(min_length=1, max_length=255)
    """Audiobookshelf library item id."""
    library_id: str = Field(min_length=1, max_length=255)
    """Audiobookshelf library id."""
    title: str = Field(min_length=1, max_length=500)
    """Title as Audiobookshelf shows it."""
    subtitle: Name | None = None
    authors: list[Name] = Field(default_factory=list, max_length=100)
    """Author names, in order."""
    narrators: list[Name] = Field(default_factory=list, max_length=100)
    """Narrator names, in order."""
    series: list[SeriesPosition] = Field(default_factory=list, max_length=50)
    """Every series the book is in, with its position."""
    isbn: str | None = Field(default=None, max_length=50)
    asin: str | None = Field(default=None, max_length=50)
    publisher: str | None = Field(default=None, max_length=500)
    published_year: int | None = Field(default=None, ge=0, le=9999)
    """Year of publication."""
    duration_minutes: Count | None = None
    """Running time in minutes."""
    description: LongText | None = None
    path: FilePath | None = None
    """The item folder on the Audiobookshelf server."""
    import_source: str = Field(default="user_import", max_length=100)
    """How the book entered the library: user_import, series_completion, …"""


class BookRemovedPayload(Contract):
    """A book that disappeared from the Audiobookshelf library."""

    abs_id: str = Field(min_length=1, max_length=255)
    """Audiobookshelf library item id."""
    library_id: str = Field(min_length=1, max_length=255)
    """Audiobookshelf library id."""
    title: Name | None = None
    """Title, for humans reading the record."""


class SeriesAssessedPayload(Contract):
    """How complete one series is, measured against the external catalogue."""

    name: str = Field(min_length=1, max_length=500)
    """Series name, as the library names it."""
    author: str | None = Field(default=None, max_length=500)
    """Main author of the series."""
    asin: str | None = Field(default=None, max_length=50)
    """Audible ASIN of the series."""
    total_books_in_series: Count | None = None
    """Released books in the series, per the catalogue."""
    books_owned: Count
    """Positions the library holds."""
    books_missing: Count
    """Released positions the library lacks."""
    completion_status: CompletionStatus
    """complete, partial or incomplete."""
    checked_at: AwareDatetime
    """When the catalogue was compared (UTC)."""


class AuthorAssessedPayload(Contract):
    """How much of one author's audiobook catalogue the library holds."""

    name: str = Field(min_length=1, max_length=500)
    """Author name."""
    asin: str | None = Field(default=None, max_length=50)
    """Audible ASIN of the author."""
    goodreads_id: str | None = Field(default=None, max_length=255)
    """Goodreads author id."""
    total_audiobooks_external: Count | None = None
    """Audiobooks by the author found in external sources."""
    audiobooks_owned: Count
    """Of those, how many the library holds."""
    audiobooks_missing: Count
    """Of those, how many it lacks."""
    completion_status: CompletionStatus
    """complete, partial or incomplete."""
    checked_at: AwareDatetime
    """When the comparison was made (UTC)."""


class MissingBookIdentifiedPayload(Contract):
    """A book the library lacks: a series gap or an author gap."""

    book: BookRef
    """The missing book."""
    reason_missing: MissingReason
    """series_gap or author_gap."""
    priority: Priority = 1
    """1 high (e.g. the next unread position), 2 medium, 3 low."""
    isbn: str | None = Field(default=None, max_length=50)
    goodreads_id: str | None = Field(default=None, max_length=255)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    """How sure discovery is that the library lacks this book (0 to 1), when it says."""
    evidence: str | None = Field(default=None, max_length=1000)
    """Why the gap exists, for people reading the record."""
    needs_review: bool = False
    """Recorded, not downloaded, until someone asks for it (`abauto review approve`)."""


class BookRequestedPayload(Contract):
    """An explicit request, from a person or another system, to get a book."""

    book: BookRef
    """The book wanted: at least a title; an ASIN makes it unambiguous."""
    requested_by: str = Field(default="external", min_length=1, max_length=100)
    """Who or what asked (a person, "home-assistant", …)."""
    priority: Priority = 1
    """1 high, 2 medium, 3 low."""


class MetadataCorrectedPayload(Contract):
    """One field of a library book changed, with where the new value came from."""

    abs_id: str = Field(min_length=1, max_length=255)
    """Audiobookshelf library item id of the corrected book."""
    field_name: str = Field(min_length=1, max_length=100)
    """The field changed: title, author, series, …"""
    old_value: LongText | None = None
    new_value: LongText | None = None
    source: str = Field(min_length=1, max_length=100)
    """Where the new value came from: audible, audnexus, manual, …"""
    reason: str | None = Field(default=None, max_length=255)
    corrected_by: str = Field(default="system", max_length=100)
    """"system" or the person who made the change."""
    correction_id: uuid.UUID | None = None
    """One correction's identity through its life: its proposed, applied, reverted steps."""
    status: CorrectionStatus = CorrectionStatus.APPLIED
    """This step of the correction; "applied" (the default) means the field changed."""


class CorrectionRequestPayload(Contract):
    """A request to apply a proposed correction, or to revert an applied one."""

    correction_id: uuid.UUID
    """The correction, as `abauto corrections list` shows it."""
    requested_by: str = Field(default="cli", min_length=1, max_length=100)
    """Who or what asked."""


class DownloadQueuedPayload(Contract):
    """A release was chosen and handed to qBittorrent."""

    book: BookRef
    """The book being downloaded."""
    source: str = Field(min_length=1, max_length=100)
    """The indexer the release came from."""
    release_title: str = Field(max_length=1000)
    """The release as the indexer names it."""
    info_hash: str | None = Field(default=None, max_length=255)
    """BitTorrent info-hash (hex), as qBittorrent reports it."""
    magnet_link: SecretUrl | None = None
    """Magnet URI, if the release was added by magnet."""
    torrent_url: SecretUrl | None = None
    """Where the .torrent came from; may carry an API key: never log it."""
    size_bytes: ByteCount | None = None
    """Size of the release."""
    max_retries: Count = 3
    """Attempts allowed before abandoning."""
    guid: str | None = Field(default=None, max_length=1000)
    """The indexer's id of the release (its `guid`)."""
    selection: Details = Field(default_factory=dict)
    """Why this release: each criterion's verdict for it and for the runner-up, and
    what was dropped or blocklisted."""


class DownloadProgressedPayload(Contract):
    """qBittorrent reported progress on a download: a sample of the transfer, sent at
    most once per `ABAUTO_PROGRESS_INTERVAL_SECONDS` and when its state changes."""

    book: BookRef
    """The book being downloaded."""
    info_hash: str = Field(max_length=255)
    """BitTorrent info-hash (hex): which download, as "download queued" names it."""
    qbittorrent_status: str = Field(max_length=100)
    """qBittorrent state: downloading, stalledDL, …"""
    progress: float = Field(ge=0.0, le=1.0)
    """Fraction done, 0 to 1."""
    downloaded_bytes: ByteCount = 0
    """Bytes downloaded so far."""
    eta_seconds: Count | None = None
    """qBittorrent's estimate of the time left; null while it has none.

    (qBittorrent itself says 8,640,000, its "infinity", while nothing moves.)"""
    size_bytes: ByteCount | None = None
    """Bytes wanted in all (the selected files), when qBittorrent knows them yet."""
    speed_bytes_per_second: ByteCount | None = None
    """Download speed at the moment of the sample."""
    seeders: Count | None = None
    """Seeds qBittorrent is connected to."""
    leechers: Count | None = None
    """Other downloading peers qBittorrent is connected to."""


class DownloadCompletedPayload(Contract):
    """A download finished; its files are where qBittorrent says."""

    book: BookRef
    """The book downloaded."""
    info_hash: str = Field(max_length=255)
    """BitTorrent info-hash (hex)."""
    content_path: FilePath
    """Where qBittorrent put the files (its own view of the path)."""
    files: list[FilePath] = Field(min_length=1, max_length=10_000)
    """The files, relative to content_path."""
    size_bytes: ByteCount | None = None
    """Total size of the files."""
    release_title: str | None = Field(default=None, max_length=1000)
    """The release as the indexer named it (qBittorrent's name for a resumed torrent)."""
    guid: str | None = Field(default=None, max_length=1000)
    """The indexer's id of the release, when known."""
    source: str | None = Field(default=None, max_length=100)
    """The indexer it came from, when known."""


class DownloadFailedPayload(Contract):
    """A download attempt failed; `retry` says whether and when it is tried again."""

    book: BookRef
    """The book whose download failed."""
    error_code: str = Field(min_length=1, max_length=100)
    """Machine-readable cause, e.g. NO_RELEASE, DOWNLOAD_STALLED."""
    reason: str = Field(min_length=1, max_length=500)
    """Human-readable cause."""
    retry: RetryInfo
    """Whether and when it is tried again."""
    info_hash: str | None = Field(default=None, max_length=255)
    """BitTorrent info-hash (hex), if a torrent was added."""
    source: str | None = Field(default=None, max_length=100)
    """The indexer, if a release was chosen."""


class DownloadAbandonedPayload(Contract):
    """A download gave up after its last retry."""

    book: BookRef
    """The book given up on."""
    error_code: str = Field(min_length=1, max_length=100)
    """Machine-readable cause of the last failure."""
    reason: str = Field(min_length=1, max_length=500)
    """Human-readable cause."""
    retry_count: Count
    """Attempts made."""


class BlockStage(StrEnum):
    """Where a release was found wanting."""

    DOWNLOAD = "download"
    """It could not be downloaded (stalled, errored, refused by qBittorrent, …)."""
    IMPORT = "import"
    """Its files were refused before filing (wrong book, runtime, language, …)."""


class ReleaseBlocklistedPayload(Contract):
    """A release failed for a book and must never be taken for it again (until the
    book's blocklist is cleared). Identified by info-hash and/or indexer guid."""

    book: BookRef
    """The book the release failed for."""
    info_hash: str | None = Field(default=None, max_length=255)
    """BitTorrent info-hash (hex), when known."""
    guid: str | None = Field(default=None, max_length=1000)
    """The indexer's id of the release, when known."""
    indexer: str | None = Field(default=None, max_length=100)
    """The indexer it came from, when known."""
    release_title: str | None = Field(default=None, max_length=1000)
    """The release as the indexer names it."""
    stage: BlockStage
    """download or import."""
    reason_code: str = Field(min_length=1, max_length=100)
    """Machine-readable cause: DOWNLOAD_STALLED, RUNTIME_MISMATCH, WRONG_BOOK, …"""
    reason: str = Field(min_length=1, max_length=500)
    """Human-readable cause."""

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not (self.info_hash or self.guid):
            raise ValueError("a blocklisted release needs an info_hash or a guid")
        return self

    @property
    def release_key(self) -> str:
        """The release's identity in the blocklist: its info-hash, else its guid."""
        if self.info_hash:
            return f"hash:{self.info_hash.lower()}"
        return f"guid:{self.guid}"


class BlocklistClearedPayload(Contract):
    """Every release blocklisted for a book before this moment may be taken again."""

    book: BookRef
    """The book whose blocklist is cleared."""
    cleared_by: str = Field(default="cli", min_length=1, max_length=100)
    """Who or what cleared it."""


class ImportCompletedPayload(Contract):
    """The downloaded files are in the library and Audiobookshelf shows the item."""

    book: BookRef
    """The book imported."""
    abs_id: str = Field(min_length=1, max_length=255)
    """The new Audiobookshelf library item id."""
    library_path: FilePath
    """The folder the files were placed in."""
    info_hash: str | None = Field(default=None, max_length=255)
    """BitTorrent info-hash (hex) of the download."""


class ImportFailedPayload(Contract):
    """Placing the files or getting Audiobookshelf to see them failed."""

    book: BookRef
    """The book whose import failed."""
    error_code: str = Field(min_length=1, max_length=100)
    """Machine-readable cause, e.g. ABS_ITEM_NOT_FOUND."""
    reason: str = Field(min_length=1, max_length=500)
    """Human-readable cause."""
    details: Detail | None = None
    """More detail (paths, responses)."""
    info_hash: str | None = Field(default=None, max_length=255)
    """BitTorrent info-hash (hex) of the download."""


class TaskStartedPayload(Contract):
    """A job run began. `run_id` ties it to its "task finished"."""

    run_id: uuid.UUID
    """Identifies this run; "task finished" carries the same one."""
    task_name: str = Field(min_length=1, max_length=100)
    """LIBRARY_SCAN, SERIES, AUTHOR, METADATA, DOWNLOAD, IMPORT, …"""
    scheduled_time: AwareDatetime | None = None
    """When the run was due (UTC)."""
    started_at: AwareDatetime
    """When it began (UTC)."""


class TaskFinishedPayload(Contract):
    """A job run ended, with its counts, log and error."""

    run_id: uuid.UUID
    """The run, as in "task started"."""
    task_name: str = Field(min_length=1, max_length=100)
    """The job, as in "task started"."""
    outcome: TaskOutcome
    """completed or failed."""
    finished_at: AwareDatetime
    """When it ended (UTC)."""
    items_processed: Count = 0
    items_succeeded: Count = 0
    items_failed: Count = 0
    log_output: LongText | None = None
    """What the run logged, for humans."""
    error_message: Detail | None = None
    """Why it failed, if it did."""
    details: Details = Field(default_factory=dict)
    """Job-specific figures."""


class FailureRecordedPayload(Contract):
    """Something failed on one item and must enter the permanent failure record."""

    task_name: str = Field(min_length=1, max_length=100)
    """The job that failed: DOWNLOAD, IMPORT, …"""
    item_key: str = Field(min_length=1, max_length=600, description="the natural key of the item")
    """The failed item's natural key (a book's is `asin:…` or `book:…`)."""
    item_name: str | None = Field(default=None, max_length=500)
    """A readable name for the item."""
    reason: str = Field(min_length=1, max_length=500)
    """Human-readable cause."""
    error_code: str = Field(min_length=1, max_length=100)
    """Machine-readable cause; with task and item, one record per failure kind."""
    error_details: Detail | None = None
    """More detail."""
    details: Details = Field(default_factory=dict)
    """Extra facts (search terms, indexer, …), merged key by key."""


Dependency = Annotated[str, Field(min_length=1, max_length=100)]
"""What a service depends on, as its readiness names it: kafka, PostgreSQL, …"""
Reason = Annotated[str, Field(max_length=300)]
"""Why, in a line."""


class HeartbeatPayload(Contract):
    """A running service process is alive, and says whether it is ready, as its
    `/readyz` would: sent every `ABAUTO_HEARTBEAT_INTERVAL_SECONDS`."""

    service: str = Field(min_length=1, max_length=100)
    """recorder, discovery, downloader or importer."""
    instance_id: str = Field(min_length=1, max_length=255)
    """This process: `<hostname>:<pid>`."""
    hostname: str = Field(max_length=200)
    """The host (or container) it runs on."""
    pid: Count
    """Its process id on that host."""
    started_at: AwareDatetime
    """When the process started (UTC)."""
    version: str | None = Field(default=None, max_length=100)
    """The abauto version it runs, when known."""
    interval_seconds: float = Field(gt=0, le=86_400)
    """How long until its next heartbeat: readers count it gone after a few missed."""
    ready: bool
    """Whether nothing keeps it from working: every check passes, nothing away or refusing."""
    checks: dict[Dependency, bool] = Field(default_factory=dict, max_length=20)
    """Each readiness check and whether it passed: kafka, database."""
    unavailable: dict[Dependency, Reason] = Field(default_factory=dict, max_length=50)
    """Dependencies away or busy, and why: it waits for them."""
    refused: dict[Dependency, Reason] = Field(default_factory=dict, max_length=50)
    """Dependencies that refused our credentials, and why: it waits to be reconfigured."""
    stopping: bool = False
    """The process is stopping cleanly (a stop signal): this is its last heartbeat."""


class DiscoveryRequestedPayload(Contract):
    """A request to run discovery now rather than at its next scheduled time."""

    requested_by: str = Field(default="cli", min_length=1, max_length=100)
    """Who or what asked (`abauto trigger discovery` says "cli")."""
    library_scan: bool = True
    """Re-read the Audiobookshelf library first."""
    series_check: bool = True
    """Then look for gaps in every owned series."""
    author_check: bool = True
    """Then look for the owned authors' books outside their series (author gaps)."""
    metadata_check: bool = True
    """Then compare every owned book's metadata with the catalogue (corrections)."""


# ---------------------------------------------------------------------------- the envelope


P = TypeVar("P", bound=Contract)


_PENDING: list[type[Event[Any]]] = []


class Event(BaseModel, Generic[P]):
    """The envelope every message carries; subclasses fix `event_type`, version and payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    topic: ClassVar[str]

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    schema_version: int
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    producer: str = Field(min_length=1, max_length=100)
    correlation_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    key: str = Field(min_length=1, max_length=MAX_KEY_LENGTH)
    payload: P

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _PENDING.append(cls)

    @field_validator("occurred_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        if value.utcoffset() == _ZERO:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past datetime.max in UTC
            raise ValueError("occurred_at is out of range once converted to UTC") from None

    @classmethod
    def natural_key(cls, payload: P) -> str:
        """The Kafka key for this payload (overridden where the key is not the book)."""
        book = getattr(payload, "book", None)
        if isinstance(book, BookRef):
            return book.key
        raise NotImplementedError(f"{cls.__name__} must define natural_key")

    @classmethod
    def create(cls, payload: P, *, producer: str, correlation_id: uuid.UUID | None = None) -> Self:
        """Wrap a payload in a new envelope, keyed by its natural key."""
        fields: dict[str, Any] = {
            "payload": payload,
            "producer": producer,
            "key": cls.natural_key(payload),
        }
        if correlation_id is not None:
            fields["correlation_id"] = correlation_id
        return cls(**fields)

    def to_json(self) -> bytes:
        """The event as UTF-8 JSON, as it travels on Kafka; `EventTooLargeError` above
        `MAX_EVENT_BYTES` (no consumer would accept it)."""
        raw = self.model_dump_json().encode()
        if len(raw) > MAX_EVENT_BYTES:
            raise EventTooLargeError(
                f"{self.event_type} is {len(raw)} bytes, more than {MAX_EVENT_BYTES}"
            )
        return raw


class BookDiscovered(Event[BookDiscoveredPayload]):
    """A library item exists in Audiobookshelf (emitted for every item on each sync)."""

    topic = topics.LIBRARY
    event_type: Literal["library.book_discovered"] = "library.book_discovered"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: BookDiscoveredPayload) -> str:
        """`abs:<item id>`."""
        return f"abs:{payload.abs_id}"


class BookRemoved(Event[BookRemovedPayload]):
    """A library item that was known is no longer in Audiobookshelf."""

    topic = topics.LIBRARY
    event_type: Literal["library.book_removed"] = "library.book_removed"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: BookRemovedPayload) -> str:
        """`abs:<item id>`."""
        return f"abs:{payload.abs_id}"


class SeriesAssessed(Event[SeriesAssessedPayload]):
    """A series was compared with the catalogue: owned, missing, completion."""

    topic = topics.CATALOGUE
    event_type: Literal["catalogue.series_assessed"] = "catalogue.series_assessed"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: SeriesAssessedPayload) -> str:
        """`series:<normalised name>`."""
        return series_key(payload.name)


class AuthorAssessed(Event[AuthorAssessedPayload]):
    """An author's catalogue was compared with the library."""

    topic = topics.CATALOGUE
    event_type: Literal["catalogue.author_assessed"] = "catalogue.author_assessed"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: AuthorAssessedPayload) -> str:
        """`author:<normalised name>`."""
        return author_key(payload.name)


class MetadataCorrected(Event[MetadataCorrectedPayload]):
    """A field of a library book was corrected from an external source."""

    topic = topics.CATALOGUE
    event_type: Literal["catalogue.metadata_corrected"] = "catalogue.metadata_corrected"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: MetadataCorrectedPayload) -> str:
        """`abs:<item id>`."""
        return f"abs:{payload.abs_id}"


class MissingBookIdentified(Event[MissingBookIdentifiedPayload]):
    """Gap detection found a book the library lacks."""

    topic = topics.WANTED
    event_type: Literal["wanted.missing_book_identified"] = "wanted.missing_book_identified"
    schema_version: Literal[1] = 1


class BookRequested(Event[BookRequestedPayload]):
    """Someone asked for a book by title/author/ASIN: the entry point for other systems."""

    topic = topics.WANTED
    event_type: Literal["wanted.book_requested"] = "wanted.book_requested"
    schema_version: Literal[1] = 1


class DownloadQueued(Event[DownloadQueuedPayload]):
    """A release was added to qBittorrent for a wanted book."""

    topic = topics.DOWNLOADS
    event_type: Literal["download.queued"] = "download.queued"
    schema_version: Literal[1] = 1


class DownloadProgressed(Event[DownloadProgressedPayload]):
    """qBittorrent reported a download's state and progress."""

    topic = topics.DOWNLOADS
    event_type: Literal["download.progressed"] = "download.progressed"
    schema_version: Literal[1] = 1


class DownloadCompleted(Event[DownloadCompletedPayload]):
    """A download finished; the importer takes it from here."""

    topic = topics.DOWNLOADS
    event_type: Literal["download.completed"] = "download.completed"
    schema_version: Literal[1] = 1


class DownloadFailed(Event[DownloadFailedPayload]):
    """A download attempt failed; carries the retry decision."""

    topic = topics.DOWNLOADS
    event_type: Literal["download.failed"] = "download.failed"
    schema_version: Literal[1] = 1


class DownloadAbandoned(Event[DownloadAbandonedPayload]):
    """A download was given up after its retries ran out."""

    topic = topics.DOWNLOADS
    event_type: Literal["download.abandoned"] = "download.abandoned"
    schema_version: Literal[1] = 1


class ReleaseBlocklisted(Event[ReleaseBlocklistedPayload]):
    """A release failed for a book and is never taken for it again."""

    topic = topics.DOWNLOADS
    event_type: Literal["download.release_blocklisted"] = "download.release_blocklisted"
    schema_version: Literal[1] = 1


class BlocklistCleared(Event[BlocklistClearedPayload]):
    """A book's blocklisted releases may be taken again."""

    topic = topics.DOWNLOADS
    event_type: Literal["download.blocklist_cleared"] = "download.blocklist_cleared"
    schema_version: Literal[1] = 1


class ImportCompleted(Event[ImportCompletedPayload]):
    """A downloaded book is in the library and visible in Audiobookshelf."""

    topic = topics.IMPORTS
    event_type: Literal["import.completed"] = "import.completed"
    schema_version: Literal[1] = 1


class ImportFailed(Event[ImportFailedPayload]):
    """Importing a downloaded book failed."""

    topic = topics.IMPORTS
    event_type: Literal["import.failed"] = "import.failed"
    schema_version: Literal[1] = 1


class TaskStarted(Event[TaskStartedPayload]):
    """A scheduled or triggered job run began."""

    topic = topics.OPERATIONS
    event_type: Literal["task.started"] = "task.started"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: TaskStartedPayload) -> str:
        """`task:<run id>`."""
        return f"task:{payload.run_id}"


class TaskFinished(Event[TaskFinishedPayload]):
    """A job run ended."""

    topic = topics.OPERATIONS
    event_type: Literal["task.finished"] = "task.finished"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: TaskFinishedPayload) -> str:
        """`task:<run id>`."""
        return f"task:{payload.run_id}"


class FailureRecorded(Event[FailureRecordedPayload]):
    """A failure to add to the permanent failure record."""

    topic = topics.OPERATIONS
    event_type: Literal["failure.recorded"] = "failure.recorded"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: FailureRecordedPayload) -> str:
        """The failed item's own key, so its failures stay in order."""
        return payload.item_key


class HeartbeatSent(Event[HeartbeatPayload]):
    """A running service process said it is alive, and whether it is ready."""

    topic = topics.HEARTBEATS
    event_type: Literal["service.heartbeat_sent"] = "service.heartbeat_sent"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: HeartbeatPayload) -> str:
        """`instance:<host>:<pid>`: one process's heartbeats stay in order."""
        return f"instance:{payload.instance_id}"


class DiscoveryRequested(Event[DiscoveryRequestedPayload]):
    """A command: the discovery service runs its jobs now."""

    topic = topics.COMMANDS
    event_type: Literal["command.discovery_requested"] = "command.discovery_requested"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: DiscoveryRequestedPayload) -> str:
        """One key: requests are served in the order they were made."""
        return "discovery"


class CorrectionApplyRequested(Event[CorrectionRequestPayload]):
    """A command: discovery writes a proposed correction to the library."""

    topic = topics.COMMANDS
    event_type: Literal["command.correction_apply_requested"] = "command.correction_apply_requested"
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: CorrectionRequestPayload) -> str:
        """`correction:<id>`: one correction's commands stay in order."""
        return f"correction:{payload.correction_id}"


class CorrectionRevertRequested(Event[CorrectionRequestPayload]):
    """A command: discovery writes an applied correction's old value back."""

    topic = topics.COMMANDS
    event_type: Literal["command.correction_revert_requested"] = (
        "command.correction_revert_requested"
    )
    schema_version: Literal[1] = 1

    @classmethod
    def natural_key(cls, payload: CorrectionRequestPayload) -> str:
        """`correction:<id>`: one correction's commands stay in order."""
        return f"correction:{payload.correction_id}"


def _type_and_version(cls: type[Event[Any]]) -> tuple[str, int]:
    fields = cls.model_fields
    return str(fields["event_type"].default), int(fields["schema_version"].default)


def _tag(event_type: object, version: object) -> str:
    return f"{event_type}/v{version}"


def _registered() -> tuple[type[Event[Any]], ...]:
    """Every concrete event class, registered by being defined (`Event.__init_subclass__`):
    adding an event type, or a new version of one, is one class in this module."""
    concrete = [cls for cls in _PENDING if "event_type" in cls.__annotations__]
    return tuple(concrete)


EVENT_TYPES: tuple[type[Event[Any]], ...] = _registered()
REGISTRY: dict[tuple[str, int], type[Event[Any]]] = {
    _type_and_version(cls): cls for cls in EVENT_TYPES
}
assert len(REGISTRY) == len(EVENT_TYPES), "two event classes share a type and version"


class EventDecodeError(ValueError):
    """Bytes that are not a valid event of a known type and version."""


class EventTooLargeError(EventDecodeError):
    """An event above `MAX_EVENT_BYTES`, refused by producers and consumers alike."""


class UnknownEventTypeError(EventDecodeError):
    """The `event_type` names no event this system knows."""


class UnsupportedSchemaVersionError(EventDecodeError):
    """The event type is known, but not at this `schema_version`."""


def _envelope_header(raw: bytes) -> tuple[dict[str, Any], str, object]:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise EventDecodeError(f"not JSON: {type(error).__name__}: {error}") from None
    if not isinstance(document, dict):
        raise EventDecodeError("an event must be a JSON object")
    event_type = document.get("event_type")
    if not isinstance(event_type, str):
        raise EventDecodeError("missing or non-string 'event_type'")
    return document, event_type, document.get("schema_version")


def _discriminate(value: Any) -> str | None:
    """Events are told apart by type *and* version, so both versions of an event can be
    read side by side while producers move from one to the next."""
    if isinstance(value, dict):
        return _tag(value.get("event_type"), value.get("schema_version"))
    return _tag(getattr(value, "event_type", None), getattr(value, "schema_version", None))


def decoder_for(classes: tuple[type[Event[Any]], ...]) -> TypeAdapter[Event[Any]]:
    """One validator for all `classes`, told apart by event type and schema version."""
    tagged = tuple(Annotated[cls, Tag(_tag(*_type_and_version(cls)))] for cls in classes)
    return TypeAdapter(
        Annotated[Union[tagged], Discriminator(_discriminate)]  # type: ignore[arg-type]  # noqa: UP007
    )


_ANY_EVENT = decoder_for(EVENT_TYPES)


def parse_event(raw: bytes) -> Event[Any]:
    """Decode one message; raise an `EventDecodeError` saying exactly what is wrong.

    Whatever the bytes hold, the only exception raised is an `EventDecodeError`: a
    message must never be able to stop a consumer."""
    if len(raw) > MAX_EVENT_BYTES:
        raise EventTooLargeError(f"{len(raw)} bytes, more than {MAX_EVENT_BYTES}")
    try:
        return _ANY_EVENT.validate_json(raw)  # the fast path: one pass, in pydantic-core
    except ValidationError:
        pass
    except (ValueError, OverflowError, RecursionError) as error:  # raised by a validator
        raise EventDecodeError(f"invalid event: {type(error).__name__}: {error}") from None
    return _diagnose(raw)


def _diagnose(raw: bytes) -> Event[Any]:
    """Decode step by step, so that the error names what is wrong."""
    document, event_type, version = _envelope_header(raw)
    known = sorted(v for (t, v) in REGISTRY if t == event_type)
    if not known:
        raise UnknownEventTypeError(f"unknown event_type {event_type[:100]!r}")
    cls = REGISTRY.get((event_type, version)) if isinstance(version, int) else None
    if cls is None:
        raise UnsupportedSchemaVersionError(
            f"{event_type} schema_version {str(version)[:20]} is not supported (supported: {known})"
        )
    try:
        return cls.model_validate(document)
    except ValidationError as error:
        raise EventDecodeError(f"invalid {event_type} v{version}: {error}") from None
    except (ValueError, OverflowError, RecursionError) as error:
        raise EventDecodeError(f"invalid {event_type} v{version}: {error}") from None


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event type, by file name `<event_type>.v<version>.json`."""
    return {
        f"{event_type}.v{version}.json": cls.model_json_schema(mode="serialization")
        for (event_type, version), cls in sorted(REGISTRY.items())
    }
