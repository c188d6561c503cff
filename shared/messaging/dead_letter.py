"""What a dead letter says: the error, where the message came from, and its raw bytes."""

from __future__ import annotations

import base64

from aiokafka import ConsumerRecord
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared import topics
from shared.events import utc_now


class DeadLetter(BaseModel):
    """A message no consumer could handle, published to `topics.DEAD_LETTER`.

    `original_topic` is the wire name, namespace included."""

    model_config = ConfigDict(frozen=True)

    error: str
    error_type: str
    consumer_group: str
    attempts: int = Field(ge=0, description="handler attempts; 0 if it never decoded")
    original_topic: str
    original_partition: int
    original_offset: int
    original_key_b64: str | None
    raw_b64: str
    failed_at: AwareDatetime = Field(default_factory=utc_now)

    @property
    def topic(self) -> str:
        """The dead-letter topic."""
        return topics.DEAD_LETTER

    @property
    def raw(self) -> bytes:
        """The original message bytes."""
        return base64.b64decode(self.raw_b64)

    def to_json(self) -> bytes:
        """The dead letter as UTF-8 JSON."""
        return self.model_dump_json().encode()

    def headers(self) -> list[tuple[str, bytes]]:
        """Headers for filtering dead letters without decoding them."""
        return [
            ("error_type", self.error_type.encode()),
            ("original_topic", self.original_topic.encode()),
            ("consumer_group", self.consumer_group.encode()),
        ]


def dead_letter_of(
    record: ConsumerRecord[bytes, bytes], error: Exception, *, group_id: str, attempts: int
) -> DeadLetter:
    """Describe why `record` could not be handled."""
    return DeadLetter(
        error=str(error)[:4000],
        error_type=type(error).__name__,
        consumer_group=group_id,
        attempts=attempts,
        original_topic=record.topic,
        original_partition=record.partition,
        original_offset=record.offset,
        original_key_b64=base64.b64encode(record.key).decode() if record.key else None,
        raw_b64=base64.b64encode(record.value or b"").decode(),
    )
