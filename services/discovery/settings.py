"""The discovery service's settings (environment variables prefixed `ABAUTO_`)."""

from __future__ import annotations

from datetime import date

from pydantic import Field, SecretStr, field_validator

from services.discovery.corrections import ALL, FIELDS
from shared.settings import ServiceSettings


class DiscoverySettings(ServiceSettings):
    """Where the library and the catalogue are, and how often to look."""

    abs_url: str = Field(description="Audiobookshelf base URL, e.g. http://abs:13378")
    abs_api_key: SecretStr = Field(description="an Audiobookshelf API key (Settings → API Keys)")
    abs_library_ids: list[str] = Field(
        default_factory=list, description="libraries to complete; empty: every book library"
    )
    audible_region: str = Field(default="us", description="us, ca, uk, au, fr, de, jp, it, …")
    audible_base_url: str | None = Field(
        default=None, description="override the catalogue's address (tests, the demo)"
    )
    discovery_interval_hours: float = Field(default=6.0, gt=0)
    discovery_on_start: bool = Field(default=True, description="run once at start-up")
    discovery_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        description="first retry of a run that failed because something "
        "was away (it doubles, up to the interval)",
    )
    catalogue_rate_per_second: float = Field(default=2.0, gt=0)
    catalogue_cache_hours: float = Field(default=72.0, ge=0)
    author_min_owned_books: int = Field(
        default=2, ge=1, description="monitor an author once the library holds this many of theirs"
    )
    author_allow: list[str] = Field(
        default_factory=list,
        description="JSON list of authors to monitor whatever they own (then no others)",
    )
    author_deny: list[str] = Field(
        default_factory=list, description="JSON list of authors never monitored"
    )
    author_max_gaps_per_run: int = Field(
        default=5, ge=0, description="new author gaps reported per author per run, newest first"
    )
    author_released_since: date | None = Field(
        default=None, description="only author gaps released on or after this date (YYYY-MM-DD)"
    )
    author_review_below: float = Field(
        default=0.75, ge=0, le=1, description="author gaps less sure than this are for review"
    )
    author_gap_priority: int = Field(default=3, ge=1, le=3, description="1 high … 3 low")
    author_check_interval_hours: float = Field(
        default=24.0,
        ge=0,
        description="a scheduled run checks authors at most this often (a command always does)",
    )
    metadata_check_interval_hours: float = Field(
        default=24.0,
        ge=0,
        description="a scheduled run compares every book's metadata at "
        "most this often; in between, only the books new or changed since the last sync",
    )
    authors_per_run: int = Field(
        default=50, ge=0, description="authors compared with the catalogue per run, stalest first"
    )
    correct_fill_empty: list[str] = Field(
        default_factory=list,
        description="fields whose empty library value is filled from the catalogue at once "
        f"({', '.join(FIELDS)}, or {ALL}); default none: corrections are only proposed",
    )
    correct_overwrite: list[str] = Field(
        default_factory=list,
        description="fields whose library value is overwritten at once where the catalogue "
        "differs (same names); default none: only proposed",
    )

    @field_validator("correct_fill_empty", "correct_overwrite")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        """A misspelt field would silently correct nothing: refuse it at start-up."""
        names = [v.strip().lower() for v in value if v.strip()]
        unknown = sorted(set(names) - {*FIELDS, ALL})
        if unknown:
            raise ValueError(f"unknown fields {unknown} (known: {', '.join(FIELDS)}, {ALL})")
        return names
