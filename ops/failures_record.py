"""The failure record as the analytics read it (read-only): each failed_attempts row with
its book's author and series (through its gap) and the indexer of its download."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ops.failures import FailureRow

ROWS = """
SELECT f.task_name, f.item_key, f.item_name, f.error_code,
       coalesce(f.attempt_count, 1) AS attempt_count, f.last_attempt,
       CASE WHEN f.item_key LIKE 'indexer:%' THEN substr(f.item_key, 9)
            WHEN d.source IS NOT NULL AND d.source <> 'unknown' THEN d.source END AS indexer,
       m.author_name AS author, m.series_name AS series
FROM failed_attempts f
LEFT JOIN missing_books m ON m.id = f.item_id
LEFT JOIN downloads d ON d.missing_book_id = m.id
WHERE f.last_attempt >= :since
"""


async def failure_rows(engine: AsyncEngine, since: datetime) -> list[FailureRow]:
    """The failures last seen at or after `since`."""
    async with engine.connect() as connection:
        rows = await connection.execute(text(ROWS), {"since": since})
        return [
            FailureRow(
                task_name=row.task_name,
                item_key=row.item_key or "",
                item_name=row.item_name,
                error_code=row.error_code or "UNKNOWN",
                attempt_count=row.attempt_count,
                last_attempt=row.last_attempt,
                indexer=row.indexer,
                author=row.author,
                series=row.series,
            )
            for row in rows
        ]
