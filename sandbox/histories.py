"""Realistic event histories of books (wanted, downloaded, failed, imported…), generated for
the recorder's tests and its benchmark."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from shared import events as ev

START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


class Clock:
    """Hands out strictly increasing instants, like a producer's wall clock."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def tick(self, seconds: float = 1.0) -> datetime:
        """Advance and return the new instant."""
        self._now += timedelta(seconds=seconds)
        return self._now


def stamped(event: ev.Event[Any], at: datetime) -> ev.Event[Any]:
    """The event as emitted at `at`."""
    return event.model_copy(update={"occurred_at": at})


def book_history(n: int, clock: Clock, *, succeed: bool = True) -> list[ev.Event[Any]]:
    """Everything that happens to one missing book: found, queued, a failed attempt and a
    retry, progress, completion, import, the library seeing it, a task and failures."""
    title = f"Volume {n}"
    book = ev.BookRef(
        title=title,
        author=f"Author {n % 97}",
        asin=f"B0{n:08d}",
        series=f"Series {n % 331}",
        series_number=str(n % 7 + 1),
        expected=ev.Expectations(runtime_minutes=600 + n, language="english"),
    )
    info_hash = f"{n:040x}"
    abs_id = f"li_{n:08d}"
    run = uuid.uuid5(uuid.NAMESPACE_URL, f"download-run-{n}")
    producer = "tests"

    def make(cls: type[ev.Event[Any]], payload: ev.Contract) -> ev.Event[Any]:
        return stamped(cls.create(payload, producer=producer), clock.tick())

    history = [
        make(
            ev.MissingBookIdentified,
            ev.MissingBookIdentifiedPayload(
                book=book, reason_missing=ev.MissingReason.SERIES_GAP, priority=n % 3 + 1
            ),
        ),
        make(
            ev.TaskStarted,
            ev.TaskStartedPayload(run_id=run, task_name="DOWNLOAD", started_at=clock.tick()),
        ),
        make(
            ev.DownloadQueued,
            ev.DownloadQueuedPayload(
                book=book,
                source="prowlarr",
                release_title=f"{title} [m4b]",
                info_hash=info_hash,
                torrent_url=SecretStr(f"http://127.0.0.1:9696/dl?apikey=k&id={n}"),
                size_bytes=300_000_000 + n,
            ),
        ),
        make(
            ev.DownloadFailed,
            ev.DownloadFailedPayload(
                book=book,
                error_code="DOWNLOAD_STALLED",
                reason="no progress for 30 minutes",
                retry=ev.RetryInfo(
                    retry_count=1, max_retries=3, will_retry=True, next_retry_at=clock.tick(60)
                ),
                info_hash=info_hash,
                source="prowlarr",
            ),
        ),
        make(
            ev.FailureRecorded,
            ev.FailureRecordedPayload(
                task_name="DOWNLOAD",
                item_key=book.key,
                item_name=title,
                reason="stalled",
                error_code="DOWNLOAD_STALLED",
                details={"attempt": 1, "indexer": "prowlarr"},
            ),
        ),
        make(
            ev.ReleaseBlocklisted,
            ev.ReleaseBlocklistedPayload(
                book=book,
                info_hash=info_hash,
                guid=f"http://127.0.0.1:9696/t/{n}",
                indexer="prowlarr",
                release_title=f"{title} [m4b]",
                stage=ev.BlockStage.DOWNLOAD,
                reason_code="DOWNLOAD_STALLED",
                reason="no progress for 30 minutes",
            ),
        ),
        make(ev.BlocklistCleared, ev.BlocklistClearedPayload(book=book, cleared_by="tests")),
        make(
            ev.DownloadQueued,
            ev.DownloadQueuedPayload(
                book=book,
                source="prowlarr",
                release_title=f"{title} [m4b]",
                info_hash=info_hash,
                torrent_url=SecretStr(f"http://127.0.0.1:9696/dl?apikey=k&id={n}"),
            ),
        ),
        make(
            ev.DownloadProgressed,
            ev.DownloadProgressedPayload(
                book=book, info_hash=info_hash, qbittorrent_status="downloading", progress=0.5
            ),
        ),
    ]
    if not succeed:
        return [
            *history,
            make(
                ev.DownloadAbandoned,
                ev.DownloadAbandonedPayload(
                    book=book, error_code="NO_RELEASE", reason="gave up", retry_count=3
                ),
            ),
        ]
    return [
        *history,
        make(
            ev.DownloadCompleted,
            ev.DownloadCompletedPayload(
                book=book, info_hash=info_hash, content_path=f"/downloads/{title}", files=["a.m4b"]
            ),
        ),
        make(
            ev.ImportCompleted,
            ev.ImportCompletedPayload(
                book=book, abs_id=abs_id, library_path=f"/audiobooks/{title}", info_hash=info_hash
            ),
        ),
        make(
            ev.BookDiscovered,
            ev.BookDiscoveredPayload(
                abs_id=abs_id,
                library_id="lib",
                title=title,
                authors=[book.author or ""],
                series=[ev.SeriesPosition(name=book.series or "", sequence=book.series_number)],
                asin=book.asin,
                duration_minutes=600,
            ),
        ),
        make(
            ev.FailureRecorded,
            ev.FailureRecordedPayload(
                task_name="DOWNLOAD",
                item_key=book.key,
                item_name=title,
                reason="stalled again",
                error_code="DOWNLOAD_STALLED",
                details={"attempt": 2},
            ),
        ),
        make(
            ev.TaskFinished,
            ev.TaskFinishedPayload(
                run_id=run,
                task_name="DOWNLOAD",
                outcome=ev.TaskOutcome.COMPLETED,
                finished_at=clock.tick(),
                items_processed=1,
                items_succeeded=1,
            ),
        ),
        make(
            ev.SeriesAssessed,
            ev.SeriesAssessedPayload(
                name=book.series or "",
                author=book.author,
                total_books_in_series=7,
                books_owned=6,
                books_missing=1,
                completion_status=ev.CompletionStatus.PARTIAL,
                checked_at=clock.tick(),
            ),
        ),
        make(
            ev.MetadataCorrected,
            ev.MetadataCorrectedPayload(
                abs_id=abs_id,
                field_name="title",
                old_value=title.lower(),
                new_value=title,
                source="audible",
            ),
        ),
    ]


def progress_sample(
    book: ev.BookRef,
    info_hash: str,
    at: datetime,
    progress: float,
    *,
    size_bytes: int = 400_000_000,
    speed: int | None = 2_000_000,
    state: str = "downloading",
) -> ev.Event[Any]:
    """qBittorrent's sample of a transfer at `at`, with the ETA its speed gives."""
    downloaded = round(size_bytes * progress)
    eta = (size_bytes - downloaded) // speed if speed else None
    payload = ev.DownloadProgressedPayload(
        book=book,
        info_hash=info_hash,
        qbittorrent_status=state,
        progress=progress,
        downloaded_bytes=downloaded,
        eta_seconds=eta,
        size_bytes=size_bytes,
        speed_bytes_per_second=speed,
        seeders=5,
        leechers=2,
    )
    return stamped(ev.DownloadProgressed.create(payload, producer="downloader"), at)


def heartbeat(
    service: str,
    at: datetime,
    *,
    instance_id: str | None = None,
    ready: bool = True,
    interval_seconds: float = 30.0,
    unavailable: dict[str, str] | None = None,
    stopping: bool = False,
) -> ev.Event[Any]:
    """A heartbeat of one process of `service` at `at` (by default `<service>-host:1`);
    its last, sent as it stops cleanly, if `stopping`."""
    instance = instance_id or f"{service}-host:1"
    host, _, pid = instance.rpartition(":")
    payload = ev.HeartbeatPayload(
        service=service,
        instance_id=instance,
        hostname=host,
        pid=int(pid),
        started_at=START,
        version="0.1.0",
        interval_seconds=interval_seconds,
        ready=ready,
        checks={"kafka": True, "database": True},
        unavailable=unavailable or {},
        stopping=stopping,
    )
    return stamped(ev.HeartbeatSent.create(payload, producer=service), at)
