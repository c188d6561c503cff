"""What discovery reads back from the record (read-only): which books it already knows
as present, and which gaps it already reported. Only the recorder writes these tables."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def present_books(engine: AsyncEngine) -> set[str]:
    """Audiobookshelf ids of the books the record holds as present in the library."""
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT abs_id FROM books WHERE status = 'active'"))
        return {row.abs_id for row in rows}


async def reported_gaps(engine: AsyncEngine) -> set[str]:
    """Natural keys of every missing book already reported, whatever became of it."""
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT book_key FROM missing_books"))
        return {row.book_key for row in rows}
