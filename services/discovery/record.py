"""What discovery reads back from the record (read-only): which books it already knows
as present, which gaps it already reported, and when each author was last assessed. Only
the recorder writes these tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.text import author_key


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


async def author_checks(engine: AsyncEngine) -> dict[str, datetime]:
    """When each author (by natural key) was last compared with the catalogue."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT name, last_completion_check FROM authors "
                "WHERE last_completion_check IS NOT NULL"
            )
        )
        return {author_key(row.name): row.last_completion_check for row in rows}
