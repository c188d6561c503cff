"""The importer's settings (environment variables prefixed `ABAUTO_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from services.importer.path_mapping import parse_mappings
from shared.settings import ServiceSettings


class ImporterSettings(ServiceSettings):
    """Where the library is, how to reach Audiobookshelf, how to see qBittorrent's paths."""

    library_root: Path = Field(
        description="the Audiobookshelf library folder, as this process sees it"
    )
    abs_url: str = Field(description="Audiobookshelf base URL, e.g. http://abs:13378")
    abs_api_key: SecretStr = Field(description="an Audiobookshelf API key (admin: it scans)")
    abs_library_id: str | None = Field(
        default=None, description="the library to scan; the first book library when empty"
    )
    path_mappings: str = Field(
        default="",
        description="qBittorrent path prefix = importer path prefix, ';'-separated: "
        "'/downloads=/mnt/media/downloads'",
    )
    allow_copy: bool = Field(
        default=False, description="copy when a hard link is impossible (uses double space)"
    )
    scan_timeout_seconds: float = Field(default=300.0, gt=0)
    item_timeout_seconds: float = Field(default=60.0, gt=0)

    @field_validator("library_root")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError("library_root must be an absolute path")
        return value

    @field_validator("path_mappings")
    @classmethod
    def _parsable(cls, value: str) -> str:
        parse_mappings(value)  # refuse a malformed mapping at start-up, not at the first import
        return value
