"""Initial schema: the eight tables of ../shared/reference/schema.md.

Revision ID: 0001
Revises:
Create Date: 2026-11-24

Decisions taken here (see "Decisions" in the schema reference):

- Timestamps are ``timestamptz`` holding UTC (the original declared ``TIMESTAMP``).
- The ``metadata`` columns keep their name; the models map them as ``metadata_``.
- missing_books <-> downloads: the original links them both ways, a foreign-key cycle.
  The one-to-one is owned by ``downloads.missing_book_id`` (UNIQUE, ON DELETE CASCADE):
  that is the only key the ORM relationship follows. ``missing_books.download_id`` is
  kept, because no column of the original schema may be dropped, as a denormalised
  pointer to the same download (ON DELETE SET NULL), written by the recorder in the same
  transaction as the download row. Its constraint is added after both tables exist and
  dropped first on downgrade, which is what breaks the cycle.
- Indexes are declared separately (the original's inline MySQL-style indexes never ran on
  PostgreSQL); missing_books.book_id gets one too, for ON DELETE SET NULL on books.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "authors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("goodreads_id", sa.String(length=255), nullable=True),
        sa.Column("google_books_id", sa.String(length=255), nullable=True),
        sa.Column("mam_author_id", sa.String(length=255), nullable=True),
        sa.Column("total_audiobooks_external", sa.Integer(), nullable=True),
        sa.Column("audiobooks_owned", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("audiobooks_missing", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("last_completion_check", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completion_status", sa.String(length=100), nullable=True),
        sa.Column(
            "date_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.Column(
            "date_updated",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authors")),
    )
    op.create_index(op.f("ix_authors_goodreads_id"), "authors", ["goodreads_id"], unique=False)
    op.create_index(
        op.f("ix_authors_last_completion_check"), "authors", ["last_completion_check"], unique=False
    )
    op.create_index(op.f("ix_authors_name"), "authors", ["name"], unique=True)
    op.create_table(
        "books",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("abs_id", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("author", sa.String(length=500), nullable=True),
        sa.Column("series", sa.String(length=500), nullable=True),
        sa.Column("series_number", sa.String(length=50), nullable=True),
        sa.Column("isbn", sa.String(length=50), nullable=True),
        sa.Column("asin", sa.String(length=50), nullable=True),
        sa.Column("publisher", sa.String(length=500), nullable=True),
        sa.Column("published_year", sa.Integer(), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "metadata_completeness_percent",
            sa.Integer(),
            server_default=sa.text("0"),
            nullable=True,
        ),
        sa.Column("last_metadata_update", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata_source",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column(
            "date_added", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True
        ),
        sa.Column(
            "date_updated",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.Column("import_source", sa.String(length=100), nullable=True),
        sa.Column(
            "status", sa.String(length=50), server_default=sa.text("'active'"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_books")),
    )
    op.create_index(op.f("ix_books_abs_id"), "books", ["abs_id"], unique=True)
    op.create_index(op.f("ix_books_author"), "books", ["author"], unique=False)
    op.create_index(op.f("ix_books_date_added"), "books", ["date_added"], unique=False)
    op.create_index(op.f("ix_books_series"), "books", ["series"], unique=False)
    op.create_index(op.f("ix_books_title"), "books", ["title"], unique=False)
    op.create_table(
        "failed_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_name", sa.String(length=100), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("item_name", sa.String(length=500), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
        sa.Column("first_attempt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempt_count", sa.Integer(), server_default=sa.text("1"), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=True
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_failed_attempts")),
    )
    op.create_index(
        op.f("ix_failed_attempts_attempt_count"), "failed_attempts", ["attempt_count"], unique=False
    )
    op.create_index(
        op.f("ix_failed_attempts_created_at"), "failed_attempts", ["created_at"], unique=False
    )
    op.create_index(
        op.f("ix_failed_attempts_item_id"), "failed_attempts", ["item_id"], unique=False
    )
    op.create_index(
        op.f("ix_failed_attempts_last_attempt"), "failed_attempts", ["last_attempt"], unique=False
    )
    op.create_index(
        op.f("ix_failed_attempts_task_name"), "failed_attempts", ["task_name"], unique=False
    )
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("author", sa.String(length=500), nullable=True),
        sa.Column("goodreads_id", sa.String(length=255), nullable=True),
        sa.Column("total_books_in_series", sa.Integer(), nullable=True),
        sa.Column("books_owned", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("books_missing", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column(
            "completion_percentage", sa.Integer(), server_default=sa.text("0"), nullable=True
        ),
        sa.Column("last_completion_check", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completion_status", sa.String(length=100), nullable=True),
        sa.Column(
            "date_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.Column(
            "date_updated",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
    )
    op.create_index(
        op.f("ix_series_completion_status"), "series", ["completion_status"], unique=False
    )
    op.create_index(op.f("ix_series_goodreads_id"), "series", ["goodreads_id"], unique=False)
    op.create_index(op.f("ix_series_name"), "series", ["name"], unique=True)
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_name", sa.String(length=100), nullable=False),
        sa.Column("scheduled_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("items_processed", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("items_succeeded", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("items_failed", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("log_output", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column(
            "date_created",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(op.f("ix_tasks_date_created"), "tasks", ["date_created"], unique=False)
    op.create_index(op.f("ix_tasks_scheduled_time"), "tasks", ["scheduled_time"], unique=False)
    op.create_index(op.f("ix_tasks_status"), "tasks", ["status"], unique=False)
    op.create_index(op.f("ix_tasks_task_name"), "tasks", ["task_name"], unique=False)
    op.create_table(
        "metadata_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=False),
        sa.Column("field_name", sa.String(length=100), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.Column(
            "correction_date",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.Column(
            "corrected_by", sa.String(length=100), server_default=sa.text("'system'"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["book_id"],
            ["books.id"],
            name=op.f("fk_metadata_corrections_book_id_books"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadata_corrections")),
    )
    op.create_index(
        op.f("ix_metadata_corrections_book_id"), "metadata_corrections", ["book_id"], unique=False
    )
    op.create_index(
        op.f("ix_metadata_corrections_correction_date"),
        "metadata_corrections",
        ["correction_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_metadata_corrections_field_name"),
        "metadata_corrections",
        ["field_name"],
        unique=False,
    )
    op.create_index(
        op.f("ix_metadata_corrections_source"), "metadata_corrections", ["source"], unique=False
    )
    op.create_table(
        "missing_books",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("author_name", sa.String(length=500), nullable=True),
        sa.Column("series_name", sa.String(length=500), nullable=True),
        sa.Column("series_number", sa.String(length=50), nullable=True),
        sa.Column("reason_missing", sa.String(length=100), nullable=False),
        sa.Column("isbn", sa.String(length=50), nullable=True),
        sa.Column("asin", sa.String(length=50), nullable=True),
        sa.Column("goodreads_id", sa.String(length=255), nullable=True),
        sa.Column(
            "identified_date",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.Column(
            "download_status",
            sa.String(length=100),
            server_default=sa.text("'identified'"),
            nullable=True,
        ),
        sa.Column("download_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), server_default=sa.text("1"), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
            name=op.f("fk_missing_books_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["book_id"],
            ["books.id"],
            name=op.f("fk_missing_books_book_id_books"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["series.id"],
            name=op.f("fk_missing_books_series_id_series"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missing_books")),
    )
    op.create_index(
        op.f("ix_missing_books_author_id"), "missing_books", ["author_id"], unique=False
    )
    op.create_index(op.f("ix_missing_books_book_id"), "missing_books", ["book_id"], unique=False)
    op.create_index(
        op.f("ix_missing_books_download_status"), "missing_books", ["download_status"], unique=False
    )
    op.create_index(
        op.f("ix_missing_books_identified_date"), "missing_books", ["identified_date"], unique=False
    )
    op.create_index(
        op.f("ix_missing_books_series_id"), "missing_books", ["series_id"], unique=False
    )
    op.create_table(
        "downloads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("book_id", sa.Integer(), nullable=True),
        sa.Column("missing_book_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("author", sa.String(length=500), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("magnet_link", sa.Text(), nullable=True),
        sa.Column("torrent_url", sa.Text(), nullable=True),
        sa.Column("qbittorrent_hash", sa.String(length=255), nullable=True),
        sa.Column("qbittorrent_status", sa.String(length=100), nullable=True),
        sa.Column(
            "status", sa.String(length=100), server_default=sa.text("'queued'"), nullable=False
        ),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("max_retries", sa.Integer(), server_default=sa.text("3"), nullable=True),
        sa.Column("last_attempt", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_retry", sa.DateTime(timezone=True), nullable=True),
        sa.Column("abs_import_status", sa.String(length=100), nullable=True),
        sa.Column("abs_import_error", sa.Text(), nullable=True),
        sa.Column(
            "date_queued",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.Column("date_completed", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["book_id"], ["books.id"], name=op.f("fk_downloads_book_id_books"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["missing_book_id"],
            ["missing_books.id"],
            name=op.f("fk_downloads_missing_book_id_missing_books"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_downloads")),
        sa.UniqueConstraint("missing_book_id", name=op.f("uq_downloads_missing_book_id")),
    )
    op.create_index(op.f("ix_downloads_book_id"), "downloads", ["book_id"], unique=False)
    op.create_index(op.f("ix_downloads_date_queued"), "downloads", ["date_queued"], unique=False)
    op.create_index(op.f("ix_downloads_next_retry"), "downloads", ["next_retry"], unique=False)
    op.create_index(
        op.f("ix_downloads_qbittorrent_hash"), "downloads", ["qbittorrent_hash"], unique=False
    )
    op.create_index(op.f("ix_downloads_source"), "downloads", ["source"], unique=False)
    op.create_index(op.f("ix_downloads_status"), "downloads", ["status"], unique=False)

    op.create_foreign_key(
        op.f("fk_missing_books_download_id_downloads"),
        "missing_books",
        "downloads",
        ["download_id"],
        ["id"],
        ondelete="SET NULL",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_missing_books_download_id_downloads"), "missing_books", type_="foreignkey"
    )
    op.drop_index(op.f("ix_downloads_status"), table_name="downloads")
    op.drop_index(op.f("ix_downloads_source"), table_name="downloads")
    op.drop_index(op.f("ix_downloads_qbittorrent_hash"), table_name="downloads")
    op.drop_index(op.f("ix_downloads_next_retry"), table_name="downloads")
    op.drop_index(op.f("ix_downloads_date_queued"), table_name="downloads")
    op.drop_index(op.f("ix_downloads_book_id"), table_name="downloads")
    op.drop_table("downloads")
    op.drop_index(op.f("ix_missing_books_series_id"), table_name="missing_books")
    op.drop_index(op.f("ix_missing_books_identified_date"), table_name="missing_books")
    op.drop_index(op.f("ix_missing_books_download_status"), table_name="missing_books")
    op.drop_index(op.f("ix_missing_books_book_id"), table_name="missing_books")
    op.drop_index(op.f("ix_missing_books_author_id"), table_name="missing_books")
    op.drop_table("missing_books")
    op.drop_index(op.f("ix_metadata_corrections_source"), table_name="metadata_corrections")
    op.drop_index(op.f("ix_metadata_corrections_field_name"), table_name="metadata_corrections")
    op.drop_index(
        op.f("ix_metadata_corrections_correction_date"), table_name="metadata_corrections"
    )
    op.drop_index(op.f("ix_metadata_corrections_book_id"), table_name="metadata_corrections")
    op.drop_table("metadata_corrections")
    op.drop_index(op.f("ix_tasks_task_name"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_status"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_scheduled_time"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_date_created"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_series_name"), table_name="series")
    op.drop_index(op.f("ix_series_goodreads_id"), table_name="series")
    op.drop_index(op.f("ix_series_completion_status"), table_name="series")
    op.drop_table("series")
    op.drop_index(op.f("ix_failed_attempts_task_name"), table_name="failed_attempts")
    op.drop_index(op.f("ix_failed_attempts_last_attempt"), table_name="failed_attempts")
    op.drop_index(op.f("ix_failed_attempts_item_id"), table_name="failed_attempts")
    op.drop_index(op.f("ix_failed_attempts_created_at"), table_name="failed_attempts")
    op.drop_index(op.f("ix_failed_attempts_attempt_count"), table_name="failed_attempts")
    op.drop_table("failed_attempts")
    op.drop_index(op.f("ix_books_title"), table_name="books")
    op.drop_index(op.f("ix_books_series"), table_name="books")
    op.drop_index(op.f("ix_books_date_added"), table_name="books")
    op.drop_index(op.f("ix_books_author"), table_name="books")
    op.drop_index(op.f("ix_books_abs_id"), table_name="books")
    op.drop_table("books")
    op.drop_index(op.f("ix_authors_name"), table_name="authors")
    op.drop_index(op.f("ix_authors_last_completion_check"), table_name="authors")
    op.drop_index(op.f("ix_authors_goodreads_id"), table_name="authors")
    op.drop_table("authors")
