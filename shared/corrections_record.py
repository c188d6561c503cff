"""Metadata corrections as the record holds them (read-only): where each correction
stands is its newest step (proposed, applied, reverted). Discovery reads it to apply or
revert a correction on command, `abauto corrections` to list them; only the recorder
writes the table."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

LATEST = (
    "SELECT DISTINCT ON (c.correction_id) c.correction_id, b.abs_id, b.title, c.field_name, "
    "c.old_value, c.new_value, c.source, c.reason, c.status, c.correction_date, "
    "c.corrected_by FROM metadata_corrections c JOIN books b ON b.id = c.book_id "
    "WHERE c.correction_id IS NOT NULL "
    "AND (CAST(:id AS uuid) IS NULL OR c.correction_id = CAST(:id AS uuid)) "
    "ORDER BY c.correction_id, c.correction_date DESC, c.id DESC"
)


@dataclass(frozen=True)
class RecordedCorrection:
    """A correction at its newest step."""

    correction_id: uuid.UUID
    abs_id: str
    title: str
    field_name: str
    old_value: str | None
    new_value: str | None
    source: str
    reason: str | None
    status: str
    at: datetime | None
    corrected_by: str | None


async def latest_steps(
    engine: AsyncEngine, correction_id: uuid.UUID | None = None
) -> list[RecordedCorrection]:
    """Every correction (or the one asked for) at its newest step, newest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(LATEST), {"id": str(correction_id) if correction_id else None}
        )
        found = [
            RecordedCorrection(
                row.correction_id,
                row.abs_id,
                row.title,
                row.field_name,
                row.old_value,
                row.new_value,
                row.source,
                row.reason,
                row.status or "applied",
                row.correction_date,
                row.corrected_by,
            )
            for row in rows
        ]
    return sorted(found, key=lambda c: (c.at is not None, c.at), reverse=True)


async def latest_step(engine: AsyncEngine, correction_id: uuid.UUID) -> RecordedCorrection | None:
    """One correction at its newest step, or None if the record has none by that id."""
    found = await latest_steps(engine, correction_id)
    return found[0] if found else None


async def statuses(engine: AsyncEngine) -> dict[uuid.UUID, str]:
    """Where every recorded correction stands, by id."""
    return {c.correction_id: c.status for c in await latest_steps(engine)}
