"""The recorder's settings: batching and retention."""

from __future__ import annotations

from pydantic import Field, model_validator

from shared.settings import ServiceSettings


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

    @model_validator(mode="after")
    def _remember_longer_than_kafka(self) -> RecorderSettings:
        if self.processed_event_retention_days <= self.topic_retention_days:
            raise ValueError(
                "processed_event_retention_days must exceed topic_retention_days, or a "
                "redelivered event could be applied twice"
            )
        return self
