"""The downloader's settings (environment variables prefixed `ABAUTO_`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, model_validator

from services.downloader.mam import SearchType
from shared.settings import ServiceSettings


class IndexerSettings(BaseModel):
    """One indexer: a Torznab endpoint (Prowlarr, Jackett) or MyAnonamouse itself."""

    name: str = Field(min_length=1, max_length=100)
    kind: Literal["torznab", "mam"] = "torznab"
    url: str = Field(
        description="Torznab: the endpoint, e.g. http://prowlarr:9696/1/api; "
        "mam: the site, e.g. https://www.myanonamouse.net"
    )
    api_key: SecretStr | None = Field(default=None, description="Torznab only (required)")
    categories: tuple[int, ...] = (3030,)
    rate_per_second: float = Field(default=1.0, gt=0)
    mam_id: SecretStr | None = Field(default=None, description="mam only (required)")
    cookie_file: Path | None = Field(
        default=None, description="mam: where the rotated mam_id is kept (0600)"
    )
    search_interval_seconds: float = Field(
        default=2.0, ge=2.0, description="mam: the least time between two requests"
    )
    search_type: SearchType = "all"
    ratio_guard: bool = Field(
        default=False, description="mam: only freeleech, VIP or personal-freeleech releases"
    )
    wedge_above_mb: float = Field(default=0.0, ge=0, description="mam: wedge only above")
    wedges_per_day: int = Field(default=0, ge=0, description="mam: 0 spends none")
    dynamic_seedbox: bool = Field(
        default=False,
        description="mam: at start-up, move the session to this address (once an hour at most)",
    )
    seedbox_url: str = Field(
        default="https://t.myanonamouse.net/json/dynamicSeedbox.php",
        description="mam: the dynamic-seedbox endpoint",
    )

    @model_validator(mode="after")
    def _credentials_of_its_kind(self) -> Self:
        if self.kind == "torznab" and not _given(self.api_key):
            raise ValueError(f"indexer {self.name}: a Torznab indexer needs an api_key")
        if self.kind == "mam" and not _given(self.mam_id):
            raise ValueError(f"indexer {self.name}: MyAnonamouse needs the mam_id cookie")
        return self


def _given(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value().strip())


class DownloaderSettings(ServiceSettings):
    """Indexers, qBittorrent, the release rule, concurrency and the retry budget."""

    indexers: list[IndexerSettings] = Field(
        min_length=1,
        description='JSON: [{"name": …, "url": …, "api_key": …}, '
        '{"name": …, "kind": "mam", "url": …, "mam_id": …, "cookie_file": …}]',
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
    progress_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a download's progress is published at most this often (and when its "
        "qBittorrent state changes, at most once more per interval)",
    )
    reconcile_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often unfinished work is re-read from the record"
    )
