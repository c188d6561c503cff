"""One realistic example of every event type: for the docs and the contract tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from shared import events as e

AT = datetime(2026, 11, 23, 20, 15, tzinfo=UTC)
RUN = uuid.UUID("6f1c2a52-8d0e-4a8b-9a53-2f0a7c9e1d11")
CORRELATION = uuid.UUID("0b8f3a1e-2c44-4d7e-8f61-5a9b0c2d3e4f")
BOOK = e.BookRef(
    title="The Well of Ascension",
    author="Brandon Sanderson",
    asin="B002UZMLXM",
    series="Mistborn",
    series_number="2",
    expected=e.Expectations(
        runtime_minutes=1_001, language="english", narrators=["Michael Kramer"]
    ),
)
RETRY = e.RetryInfo(retry_count=1, max_retries=3, will_retry=True, next_retry_at=AT)
CORRECTION = uuid.UUID("3c9d5e7a-1b2f-4c6d-8e0a-9f1b2c3d4e5f")
HASH = "8d0e4a8b9a532f0a7c9e1d116f1c2a528d0e4a8b"

PAYLOADS: dict[type[e.Event[Any]], e.Contract] = {
    e.BookDiscovered: e.BookDiscoveredPayload(
        abs_id="li_8e2f0c4a",
        library_id="lib_audiobooks",
        title="The Final Empire",
        authors=["Brandon Sanderson"],
        narrators=["Michael Kramer"],
        series=[e.SeriesPosition(name="Mistborn", sequence="1")],
        asin="B002UZJGYY",
        published_year=2006,
        duration_minutes=1490,
        path="/audiobooks/Brandon Sanderson/Mistborn/Vol. 1 - The Final Empire",
    ),
    e.BookRemoved: e.BookRemovedPayload(
        abs_id="li_8e2f0c4a", library_id="lib_audiobooks", title="The Final Empire"
    ),
    e.SeriesAssessed: e.SeriesAssessedPayload(
        name="Mistborn",
        author="Brandon Sanderson",
        asin="B06XKHW6P5",
        total_books_in_series=7,
        books_owned=5,
        books_missing=2,
        completion_status=e.CompletionStatus.PARTIAL,
        checked_at=AT,
    ),
    e.AuthorAssessed: e.AuthorAssessedPayload(
        name="Brandon Sanderson",
        asin="B001IGFHW6",
        total_audiobooks_external=42,
        audiobooks_owned=30,
        audiobooks_missing=12,
        completion_status=e.CompletionStatus.PARTIAL,
        checked_at=AT,
    ),
    e.MetadataCorrected: e.MetadataCorrectedPayload(
        abs_id="li_8e2f0c4a",
        field_name="series",
        old_value="Mistborn Saga",
        new_value="Mistborn",
        source="audible",
        reason="series name differs from the Audible catalogue",
        correction_id=CORRECTION,
        status=e.CorrectionStatus.PROPOSED,
    ),
    e.MissingBookIdentified: e.MissingBookIdentifiedPayload(
        book=BOOK, reason_missing=e.MissingReason.SERIES_GAP, priority=1
    ),
    e.BookRequested: e.BookRequestedPayload(book=BOOK, requested_by="home-assistant"),
    e.DownloadQueued: e.DownloadQueuedPayload(
        book=BOOK,
        source="prowlarr-mam",
        release_title="Brandon Sanderson - Mistborn 2 - The Well of Ascension [m4b]",
        info_hash=HASH,
        torrent_url=SecretStr("http://127.0.0.1:9696/1/download?apikey=REDACTED&id=42"),
        size_bytes=1_073_741_824,
        guid="https://tracker.example/t/42",
        selection={
            "considered": 6,
            "chosen": {"narrator": "same as the series: Michael Kramer", "format": "m4b"},
            "runner_up": {"narrator": "different: Kate Reading", "format": "m4b"},
        },
    ),
    e.DownloadProgressed: e.DownloadProgressedPayload(
        book=BOOK,
        info_hash=HASH,
        qbittorrent_status="downloading",
        progress=0.42,
        downloaded_bytes=450_971_566,
        eta_seconds=95,
        size_bytes=1_073_741_824,
        speed_bytes_per_second=6_553_600,
        seeders=12,
        leechers=3,
    ),
    e.DownloadCompleted: e.DownloadCompletedPayload(
        book=BOOK,
        info_hash=HASH,
        content_path="/downloads/audiobooks/The Well of Ascension",
        files=["The Well of Ascension.m4b"],
        size_bytes=1_073_741_824,
        release_title="Brandon Sanderson - Mistborn 2 - The Well of Ascension [m4b]",
        guid="https://tracker.example/t/42",
        source="prowlarr-mam",
    ),
    e.DownloadFailed: e.DownloadFailedPayload(
        book=BOOK,
        error_code="DOWNLOAD_STALLED",
        reason="no progress for 30 minutes",
        retry=RETRY,
        info_hash=HASH,
        source="prowlarr-mam",
    ),
    e.DownloadAbandoned: e.DownloadAbandonedPayload(
        book=BOOK, error_code="NO_RELEASE", reason="no release after 3 retries", retry_count=3
    ),
    e.ReleaseBlocklisted: e.ReleaseBlocklistedPayload(
        book=BOOK,
        info_hash=HASH,
        guid="https://tracker.example/t/42",
        indexer="prowlarr-mam",
        release_title="Brandon Sanderson - Mistborn 2 - The Well of Ascension [m4b]",
        stage=e.BlockStage.IMPORT,
        reason_code="RUNTIME_MISMATCH",
        reason="the audio runs 8 h 3 min; the catalogue says 16 h 41 min",
    ),
    e.BlocklistCleared: e.BlocklistClearedPayload(book=BOOK, cleared_by="cli"),
    e.ImportCompleted: e.ImportCompletedPayload(
        book=BOOK,
        abs_id="li_5dbad2f2",
        library_path="/audiobooks/Brandon Sanderson/Mistborn/Vol. 2 - The Well of Ascension",
        info_hash=HASH,
    ),
    e.ImportFailed: e.ImportFailedPayload(
        book=BOOK,
        error_code="ABS_ITEM_NOT_FOUND",
        reason="Audiobookshelf did not show the item after the scan",
        info_hash=HASH,
    ),
    e.TaskStarted: e.TaskStartedPayload(
        run_id=RUN, task_name="SERIES", scheduled_time=AT, started_at=AT
    ),
    e.TaskFinished: e.TaskFinishedPayload(
        run_id=RUN,
        task_name="SERIES",
        outcome=e.TaskOutcome.COMPLETED,
        finished_at=AT,
        items_processed=12,
        items_succeeded=12,
        details={"gaps_found": 2},
    ),
    e.FailureRecorded: e.FailureRecordedPayload(
        task_name="DOWNLOAD",
        item_key=BOOK.key,
        item_name=BOOK.title,
        reason="no release found on any indexer",
        error_code="NO_RELEASE",
        details={"indexers": ["prowlarr-mam"], "query": "well of ascension sanderson"},
    ),
    e.HeartbeatSent: e.HeartbeatPayload(
        service="downloader",
        instance_id="abauto-downloader-7d9f:1",
        hostname="abauto-downloader-7d9f",
        pid=1,
        started_at=AT,
        version="0.1.0",
        interval_seconds=30.0,
        ready=False,
        checks={"kafka": True, "database": True},
        unavailable={"qBittorrent and the indexers": "qBittorrent unreachable: ConnectionError"},
    ),
    e.DiscoveryRequested: e.DiscoveryRequestedPayload(requested_by="cli"),
    e.CorrectionApplyRequested: e.CorrectionRequestPayload(
        correction_id=CORRECTION, requested_by="alice"
    ),
    e.CorrectionRevertRequested: e.CorrectionRequestPayload(
        correction_id=CORRECTION, requested_by="alice"
    ),
}


def example_event(cls: type[e.Event[Any]]) -> e.Event[Any]:
    """A fixed, realistic event of type `cls`."""
    event = cls.create(PAYLOADS[cls], producer="example", correlation_id=CORRELATION)
    return event.model_copy(
        update={"event_id": uuid.uuid5(CORRELATION, event.event_type), "occurred_at": AT}
    )


def example_events() -> list[e.Event[Any]]:
    """One example of every event type, in registry order."""
    return [example_event(cls) for cls in e.EVENT_TYPES]
