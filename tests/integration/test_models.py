"""The models on a real, migrated PostgreSQL: the seed's examples, constraints, cascades."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.database import get_db
from shared.models import (
    Author,
    Book,
    Download,
    FailedAttempt,
    MetadataCorrection,
    MissingBook,
    Series,
    Task,
)
from tests.support import databases

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def migrated(empty_database: str) -> AsyncIterator[None]:
    """Every test here runs on its own freshly migrated database."""
    async with databases.using(empty_database):
        await databases.migrate()
        yield


async def _book_with_everything(db: AsyncSession) -> tuple[Book, MissingBook, Download]:
    book = Book(title="The Well of Ascension", author="Brandon Sanderson", abs_id="li_2")
    series = Series(name="Mistborn", author="Brandon Sanderson")
    author = Author(name="Brandon Sanderson")
    missing = MissingBook(
        title="The Well of Ascension",
        reason_missing="series_gap",
        book=book,
        series=series,
        author=author,
    )
    download = Download(title="The Well of Ascension", source="MAM", book=book)
    missing.download = download
    book.metadata_corrections.append(
        MetadataCorrection(field_name="series", new_value="Mistborn", source="audible")
    )
    db.add_all([book, series, author, missing, download])
    await db.commit()
    return book, missing, download


# ----------------------------------------------------------------- the seed's usage examples


async def test_seed_create_a_book_fills_database_defaults() -> None:
    async with get_db() as db:
        book = Book(
            title="The Name of the Wind",
            author="Patrick Rothfuss",
            series="The Kingkiller Chronicle",
            series_number="1",
            isbn="9780756404079",
            metadata_completeness_percent=85,
        )
        db.add(book)
        await db.commit()
        await db.refresh(book)

    assert book.id is not None
    assert book.status == "active"
    assert book.metadata_source == {}
    assert book.date_added is not None
    assert book.date_added.tzinfo is not None
    assert book.metadata_completeness_percent == 85


async def test_seed_query_high_priority_identified_missing_books() -> None:
    async with get_db() as db:
        db.add_all(
            [
                MissingBook(title="Wanted", reason_missing="series_gap", priority=1),
                MissingBook(title="Later", reason_missing="series_gap", priority=3),
                MissingBook(title="Queued", reason_missing="author_gap", download_status="queued"),
            ]
        )
        await db.commit()

    async with get_db() as db:
        result = await db.scalars(
            select(MissingBook).where(
                MissingBook.priority == 1, MissingBook.download_status == "identified"
            )
        )
        found = [(book.title, book.reason_missing) for book in result]

    assert found == [("Wanted", "series_gap")]


async def test_seed_track_task_execution_with_naive_local_datetimes() -> None:
    started = datetime.now()
    async with get_db() as db:
        task = Task(
            task_name="SERIES", scheduled_time=started, actual_start=started, status="running"
        )
        db.add(task)
        await db.commit()

        task.status = "completed"
        task.actual_end = datetime.now()
        task.items_processed = 50
        task.items_succeeded = 48
        task.items_failed = 2
        await db.commit()

    async with get_db() as db:
        stored = await db.get_one(Task, task.id)
    assert stored.status == "completed"
    assert (stored.items_processed, stored.items_succeeded, stored.items_failed) == (50, 48, 2)
    assert stored.actual_start == started.astimezone(UTC)  # naive is read as local time
    assert stored.metadata_ == {}


async def test_seed_record_failed_attempt_with_metadata_keyword(
    raw_connection: object,
) -> None:
    async with get_db() as db:
        failure = FailedAttempt(
            task_name="DOWNLOAD",
            item_id=123,
            item_name="The Wise Man's Fear",
            reason="Torrent not found on MAM",
            error_code="TORRENT_404",
            last_attempt=datetime.now(),
            metadata={"source": "MAM", "search_terms": "wise man's fear rothfuss"},
        )
        db.add(failure)
        await db.commit()

        stored = await db.scalar(text("SELECT metadata FROM failed_attempts"))
    assert stored == {"source": "MAM", "search_terms": "wise man's fear rothfuss"}
    assert failure.attempt_count == 1


# ----------------------------------------------------------------------------- behaviours


async def test_date_updated_moves_on_every_update() -> None:
    async with get_db() as db:
        series = Series(name="Stormlight Archive")
        db.add(series)
        await db.commit()
        created = series.date_updated

        series.books_owned = 3
        await db.commit()

    assert series.date_updated is not None
    assert created is not None
    assert series.date_updated > created
    assert series.date_created == created


async def test_relationships_work_both_ways_from_async_code() -> None:
    async with get_db() as db:
        await _book_with_everything(db)

    async with get_db() as db:
        book = await db.scalar(select(Book).where(Book.abs_id == "li_2"))
        assert book is not None
        downloads = await book.awaitable_attrs.downloads
        entries = await book.awaitable_attrs.missing_book_entries
        corrections = await book.awaitable_attrs.metadata_corrections
        missing = entries[0]
        series = await missing.awaitable_attrs.series
        author = await missing.awaitable_attrs.author
        download = await missing.awaitable_attrs.download

        assert [d.title for d in downloads] == ["The Well of Ascension"]
        assert await downloads[0].awaitable_attrs.book is book
        assert await download.awaitable_attrs.missing_book is missing
        assert download is downloads[0]
        assert await missing.awaitable_attrs.book is book
        assert [c.field_name for c in corrections] == ["series"]
        assert await corrections[0].awaitable_attrs.book is book
        assert await series.awaitable_attrs.missing_books == [missing]
        assert await author.awaitable_attrs.missing_books == [missing]


async def test_deleting_a_book_cascades_downloads_and_corrections_and_unlinks_gaps() -> None:
    async with get_db() as db:
        book, missing, _ = await _book_with_everything(db)
        missing_id = missing.id
        await db.execute(delete(Book).where(Book.id == book.id))
        await db.commit()

    async with get_db() as db:
        assert await db.scalar(select(Download.id)) is None
        assert await db.scalar(select(MetadataCorrection.id)) is None
        survivor = await db.get_one(MissingBook, missing_id)
        assert survivor.book_id is None


async def test_deleting_a_book_through_the_orm_matches_the_database_cascade() -> None:
    async with get_db() as db:
        book, missing, _ = await _book_with_everything(db)
        await db.delete(book)
        await db.commit()
        remaining = (await db.scalars(select(MissingBook))).all()

    assert [m.id for m in remaining] == [missing.id]
    assert remaining[0].book_id is None
    async with get_db() as db:
        assert await db.scalar(select(Download.id)) is None


async def test_deleting_a_series_or_author_deletes_their_gaps_and_downloads() -> None:
    async with get_db() as db:
        _, missing, _ = await _book_with_everything(db)
        await db.execute(delete(Series))
        await db.commit()
        assert await db.scalar(select(MissingBook.id)) is None
        assert await db.scalar(select(Download.id)) is None

        db.add(MissingBook(title="Gap", reason_missing="author_gap", author_id=missing.author_id))
        await db.commit()
        await db.execute(delete(Author))
        await db.commit()
        assert await db.scalar(select(MissingBook.id)) is None


async def test_denormalised_download_pointer_is_nulled_when_the_download_goes() -> None:
    async with get_db() as db:
        _, missing, download = await _book_with_everything(db)
        missing.download_id = download.id
        await db.commit()
        await db.execute(delete(Download))
        await db.commit()
        await db.refresh(missing)
    assert missing.download_id is None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (Book(title="A", abs_id="same"), Book(title="B", abs_id="same")),
        (Series(name="Dune"), Series(name="Dune")),
        (Author(name="Frank Herbert"), Author(name="Frank Herbert")),
    ],
    ids=["books.abs_id", "series.name", "authors.name"],
)
async def test_natural_keys_are_unique(first: object, second: object) -> None:
    async with get_db() as db:
        db.add(first)
        await db.commit()
        db.add(second)
        with pytest.raises(IntegrityError):
            await db.commit()


async def test_one_download_per_missing_book() -> None:
    async with get_db() as db:
        missing = MissingBook(title="Dune Messiah", reason_missing="series_gap")
        db.add(missing)
        await db.commit()
        db.add(Download(title="x", source="MAM", missing_book_id=missing.id))
        await db.commit()
        db.add(Download(title="y", source="MAM", missing_book_id=missing.id))
        with pytest.raises(IntegrityError, match="uq_downloads_missing_book_id"):
            await db.commit()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO books (title) VALUES (NULL)",
        "INSERT INTO missing_books (title) VALUES ('no reason')",
        "INSERT INTO downloads (title) VALUES ('no source')",
        "INSERT INTO tasks (task_name) VALUES ('no status')",
        "INSERT INTO failed_attempts (task_name, reason) VALUES ('T', 'no last_attempt')",
        "INSERT INTO metadata_corrections (field_name, source) VALUES ('title', 'manual')",
    ],
)
async def test_required_columns_are_enforced_by_the_database(statement: str) -> None:
    async with get_db() as db:
        with pytest.raises(IntegrityError, match="not-null"):
            await db.execute(text(statement))


async def test_string_lengths_are_enforced() -> None:
    async with get_db() as db:
        db.add(Book(title="x" * 501))
        with pytest.raises(DBAPIError, match="too long"):
            await db.commit()


async def test_foreign_keys_are_enforced() -> None:
    async with get_db() as db:
        db.add(MetadataCorrection(book_id=999, field_name="title", source="manual"))
        with pytest.raises(IntegrityError, match="foreign key"):
            await db.commit()
