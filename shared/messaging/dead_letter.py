"""What a dead letter says: the error, where the message came from, and its raw bytes.

A dead letter always fits in one Kafka message, whatever it carries: a message larger
than `RAW_KEPT_BYTES` keeps its first `RAW_KEPT_BYTES` with the whole message's size and
SHA-256 (the original stays readable at its topic/partition/offset until retention).
"""

from __future__ import annotations

import base64
import hashlib

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
    raw_size: int = Field(ge=0, description="size of the whole original message")
    raw_sha256: str = Field(description="SHA-256 of the whole original message, hex")
    raw_truncated: bool = Field(description="raw_b64 holds only the first RAW_KEPT_BYTES")
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


RAW_KEPT_BYTES = 256 * 1024
"""Bytes of the original message a dead letter keeps (base64: a third more)."""
KEY_KEPT_BYTES = 1024
ERROR_KEPT_CHARS = 4000


def dead_letter_of(
    record: ConsumerRecord[bytes, bytes], error: BaseException, *, group_id: str, attempts: int
) -> DeadLetter:
    """Describe why `record` could not be handled, in a letter that always fits."""
    raw = record.value or b""
    return DeadLetter(
        error=str(error)[:ERROR_KEPT_CHARS],
        error_type=type(error).__name__,
        consumer_group=group_id,
        attempts=attempts,
        original_topic=record.topic,
        original_partition=record.partition,
        original_offset=record.offset,
        original_key_b64=base64.b64encode(record.key[:KEY_KEPT_BYTES]).decode()
        if record.key
        else None,
        raw_b64=base64.b64encode(raw[:RAW_KEPT_BYTES]).decode(),
        raw_size=len(raw),
        raw_sha256=hashlib.sha256(raw).hexdigest(),
        raw_truncated=len(raw) > RAW_KEPT_BYTES,
    )
