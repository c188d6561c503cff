"""The downloader's settings (environment variables prefixed `ABAUTO_`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from shared.settings import ServiceSettings


class IndexerSettings(BaseModel):
    """One Torznab indexer (a Prowlarr or Jackett indexer endpoint)."""

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(description="the Torznab endpoint, e.g. http://prowlarr:9696/1/api")
    api_key: SecretStr
    categories: tuple[int, ...] = (3030,)
    rate_per_second: float = Field(default=1.0, gt=0)


class DownloaderSettings(ServiceSettings):
    """Indexers, qBittorrent, the release rule, concurrency and the retry budget."""

    indexers: list[IndexerSettings] = Field(
        min_length=1, description='JSON: [{"name": …, "url": …, "api_key": …}]'
    )
    qbittorrent_url: str = Field(description="qBittorrent Web UI, e.g. http://qbittorrent:8080")
    qbittorrent_username: str = "admin"
    qbittorrent_password: SecretStr
    qbittorrent_category: str = "audiobooks"
    qbittorrent_save_path: str | None = Field(
        default=None, description="where qBittorrent saves; its default when empty"
    )
    format_preference: tuple[str, ...] = ("m4b", "mp3")
    min_size_mb: float = Field(default=1.0, ge=0)
    max_size_mb: float = Field(default=20_000.0, gt=0)
    min_seeders: int = Field(default=1, ge=0)
    allow_abridged: bool = Field(
        default=False, description="accept releases that say abridged (dropped otherwise)"
    )
    max_concurrent_downloads: int = Field(default=3, ge=1, le=50)
    max_retries: int = Field(default=3, ge=0, le=20)
    retry_base_seconds: float = Field(default=900.0, ge=0, description="first retry's delay")
    retry_cap_seconds: float = Field(default=6 * 3600.0, ge=0)
    stall_timeout_seconds: float = Field(default=1800.0, gt=0)
    poll_interval_seconds: float = Field(default=5.0, gt=0)
    progress_interval_seconds: float = Field(default=60.0, gt=0)
    reconcile_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often unfinished work is re-read from the record"
    )
