"""The recorder's settings: batching, what it believes, and retention."""

from __future__ import annotations

from pydantic import Field, model_validator

from shared.settings import ServiceSettings

DEFAULT_MAX_CLOCK_SKEW_SECONDS = 600
"""Producers' clocks may run this far ahead of the recorder's: NTP-synchronised hosts are
within a second; ten minutes leaves room for a host without it, and anything further
ahead is more likely forged or broken than late."""
DEFAULT_ABANDONED_TASK_HOURS = 24.0
"""No job run lasts a day (discovery runs every six hours): one still `running` after that
lost its process (killed, host down) and will never report."""


class RecorderSettings(ServiceSettings):
    """Settings of the recorder (environment variables prefixed `ABAUTO_`)."""

    recorder_batch_size: int = Field(default=2000, ge=1, le=50_000)
    recorder_batches_in_flight: int = Field(default=3, ge=1, le=8)
    recorder_linger_ms: int = Field(default=100, ge=0, le=5000, description="to fill a batch")
    retention_days: int = Field(default=30, ge=1, description="tasks, metadata corrections")
    processed_event_retention_days: int = Field(
        default=14, ge=1, description="must exceed topic_retention_days (the topics' retention)"
    )
    cleanup_interval_hours: float = Field(default=24.0, gt=0)
    max_clock_skew_seconds: int = Field(
        default=DEFAULT_MAX_CLOCK_SKEW_SECONDS,
        ge=0,
        le=86_400,
        description="events dated further ahead than this are refused",
    )
    abandoned_task_hours: float = Field(
        default=DEFAULT_ABANDONED_TASK_HOURS,
        gt=0,
        description="a task still running after this long is marked failed by cleanup",
    )

    @model_validator(mode="after")
    def _remember_longer_than_kafka(self) -> RecorderSettings:
        if self.processed_event_retention_days <= self.topic_retention_days:
            raise ValueError(
                "processed_event_retention_days must exceed topic_retention_days, or a "
                "redelivered event could be applied twice"
            )
        return self
