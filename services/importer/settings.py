"""The importer's settings (environment variables prefixed `ABAUTO_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator

from services.importer.path_mapping import parse_mappings
from services.importer.proof import Tolerance
from services.importer.sources import overlaps, parse_roots
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
    download_roots: str = Field(
        description="the folders completed downloads are in, as this process sees them "
        "(after path mapping), ';'-separated: '/media/downloads'. Files are never taken "
        "from anywhere else."
    )
    path_mappings: str = Field(
        default="",
        description="qBittorrent path prefix = importer path prefix, ';'-separated: "
        "'/downloads=/mnt/media/downloads'",
    )
    allow_copy: bool = Field(
        default=False, description="copy when a hard link is impossible (uses double space)"
    )
    abs_watcher_grace_seconds: float = Field(
        default=0.0,
        ge=0,
        description="leave a new folder to Audiobookshelf's watcher this long before "
        "asking for a library scan (0: scan at once; ~15 on a library whose scans are slow)",
    )
    item_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="how long the new folder may take to become an Audiobookshelf item",
    )

    proof_enabled: bool = Field(
        default=True,
        description="before filing, read the downloaded audio and refuse (and blocklist) a "
        "release that does not decode or is not the wanted book (services/importer/proof.py)",
    )
    proof_runtime_tolerance_percent: float = Field(
        default=15.0,
        ge=0,
        le=100,
        description="how far the audio's running time may stray from the catalogue's, as a "
        "share of it (the larger of this and the floor below is allowed)",
    )
    proof_runtime_tolerance_minutes: float = Field(
        default=2.0,
        ge=0,
        description="the least difference in running time always allowed, in minutes",
    )
    proof_decode_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="how long ffmpeg may take to decode 30 s at either end of one file "
        "(a second, normally) before the file counts as undecodable",
    )

    @field_validator("library_root")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise ValueError("library_root must be an absolute path")
        return value

    @field_validator("download_roots")
    @classmethod
    def _roots(cls, value: str) -> str:
        if not parse_roots(value):
            raise ValueError("download_roots must name at least one folder")
        return value

    @model_validator(mode="after")
    def _apart(self) -> ImporterSettings:
        """A download root that holds the library, or lies in it, would let an import
        link the library's own files into a new book folder."""
        for root in self.download_root_paths:
            if overlaps(root, self.library_root):
                raise ValueError(f"download root {root} overlaps the library {self.library_root}")
        return self

    @property
    def download_root_paths(self) -> tuple[Path, ...]:
        """The download roots, parsed."""
        return parse_roots(self.download_roots)

    @property
    def runtime_tolerance(self) -> Tolerance:
        """How far the proof lets the running time stray from the catalogue's."""
        return Tolerance(self.proof_runtime_tolerance_percent, self.proof_runtime_tolerance_minutes)

    @field_validator("path_mappings")
    @classmethod
    def _parsable(cls, value: str) -> str:
        parse_mappings(value)  # refuse a malformed mapping at start-up, not at the first import
        return value
