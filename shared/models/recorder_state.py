"""The recorder's own bookkeeping: which events it applied, and whose turn it is to write.
(The merge versions live in each row's `recorder_versions` column.)"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.database import Base
from shared.models.columns import created_timestamp


class ProcessedEvent(Base):
    """An event the recorder applied, written in the same transaction as its effect:
    a redelivered event finds its id here and changes nothing. Pruned once older than
    the topics' retention, when Kafka can no longer redeliver it. The fingerprint (a
    digest of the event's content) tells a redelivery from a different event reusing the
    id, which is refused; rows from before it was kept have none.
    """

    __tablename__ = "processed_events"
    # Append-only in time order, read only by the daily retention delete: a block-range
    # index is enough and nearly free to maintain.
    __table_args__ = (Index(None, "processed_at", postgresql_using="brin"),)

    event_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[datetime | None] = created_timestamp()
    fingerprint: Mapped[bytes | None] = mapped_column(LargeBinary())


class WriterGeneration(Base):
    """One row whose `generation` every recorder transaction increments first: the row lock
    makes writers take turns, and the number tells a batch whether anyone else wrote since
    the batch it built on (see `services.recorder.handler`).
    """

    __tablename__ = "recorder_writer"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)
