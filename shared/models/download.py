"""Download: one attempt to fetch a book through qBittorrent, and its import into ABS."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Float, ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.database import Base
from shared.models.columns import (
    counter,
    created_timestamp,
    json_object,
    merge_versions,
    timestamp,
)

if TYPE_CHECKING:
    from shared.models.book import Book
    from shared.models.missing_book import MissingBook


class Download(Base):
    """A download: `status` is queued, downloading, completed, failed or abandoned; retries
    follow `retry_count` / `max_retries` / `next_retry`; `abs_import_status` is pending,
    imported or import_failed. `progress` … `progress_at` are qBittorrent's latest sample
    of the transfer (a queued download it has reported on since is "downloading").

    `torrent_url` can carry an indexer API key or passkey: never log it whole.
    """

    __tablename__ = "downloads"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int | None] = mapped_column(
        ForeignKey("books.id", ondelete="CASCADE"), index=True
    )
    missing_book_id: Mapped[int | None] = mapped_column(
        ForeignKey("missing_books.id", ondelete="CASCADE"), unique=True
    )
    title: Mapped[str] = mapped_column(String(500))
    author: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(100), index=True)
    magnet_link: Mapped[str | None] = mapped_column(Text)
    torrent_url: Mapped[str | None] = mapped_column(Text)
    qbittorrent_hash: Mapped[str | None] = mapped_column(String(255), index=True)
    qbittorrent_status: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(
        String(100), default="queued", server_default=text("'queued'"), index=True
    )
    retry_count: Mapped[int | None] = counter()
    max_retries: Mapped[int | None] = mapped_column(default=3, server_default=text("3"))
    last_attempt: Mapped[datetime | None] = timestamp()
    next_retry: Mapped[datetime | None] = timestamp(index=True)
    abs_import_status: Mapped[str | None] = mapped_column(String(100))
    abs_import_error: Mapped[str | None] = mapped_column(Text)
    date_queued: Mapped[datetime | None] = created_timestamp(index=True)
    date_completed: Mapped[datetime | None] = timestamp()
    release_guid: Mapped[str | None] = mapped_column(String(1000))
    """The indexer's id of the release taken."""
    selection: Mapped[dict[str, Any] | None] = json_object()
    """Why that release: each criterion's verdict for it and for the runner-up."""
    progress: Mapped[float | None] = mapped_column(Float)
    """Fraction done (0 to 1) at qBittorrent's latest reported sample; the columns down to
    `progress_at` are that sample's (NULL until one is recorded for this release)."""
    downloaded_bytes: Mapped[int | None] = mapped_column(BigInteger)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    """Bytes wanted in all: qBittorrent's count, else the indexer's size of the release."""
    speed_bytes_per_second: Mapped[int | None] = mapped_column(BigInteger)
    eta_seconds: Mapped[int | None]
    """NULL when qBittorrent has no estimate."""
    seeders: Mapped[int | None]
    leechers: Mapped[int | None]
    progress_at: Mapped[datetime | None] = timestamp()
    """When that sample was taken."""
    recorder_versions: Mapped[dict[str, Any] | None] = merge_versions()
    """Which event last set each column group: the recorder's own bookkeeping."""

    book: Mapped[Book | None] = relationship(back_populates="downloads")
    missing_book: Mapped[MissingBook | None] = relationship(
        back_populates="download", foreign_keys=[missing_book_id]
    )

    def __repr__(self) -> str:
        return f"Download(id={self.id!r}, title={self.title!r}, status={self.status!r})"
