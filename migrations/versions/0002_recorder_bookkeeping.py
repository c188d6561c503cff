"""Recorder bookkeeping: natural keys for idempotent replays, processed events, versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

- missing_books.book_key (unique): one gap per wanted book, however often identified.
- tasks.run_id (unique): joins a run's "task started" and "task finished".
- failed_attempts.item_key, unique with (task_name, error_code), NULLs not distinct:
  a repeated failure increments attempt_count instead of adding a row.
- series.asin, authors.asin: the Audible catalogue's ids.
- processed_events: event ids applied, written in the same transaction as their effect.
- recorder_versions: per row, the version that last set each column group, so that
  events applied in any order converge on the same state.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column(
            "processed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_processed_events")),
    )
    op.create_index(
        op.f("ix_processed_events_processed_at"), "processed_events", ["processed_at"], unique=False
    )
    op.create_table(
        "recorder_versions",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("natural_key", sa.String(length=600), nullable=False),
        sa.Column("versions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("kind", "natural_key", name=op.f("pk_recorder_versions")),
    )
    op.add_column("authors", sa.Column("asin", sa.String(length=50), nullable=True))
    op.add_column("failed_attempts", sa.Column("item_key", sa.String(length=600), nullable=True))
    op.create_index(
        op.f("ix_failed_attempts_item_key"), "failed_attempts", ["item_key"], unique=False
    )
    op.create_unique_constraint(
        op.f("uq_failed_attempts_task_name_item_key_error_code"),
        "failed_attempts",
        ["task_name", "item_key", "error_code"],
        postgresql_nulls_not_distinct=True,
    )
    op.add_column("missing_books", sa.Column("book_key", sa.String(length=600), nullable=True))
    op.create_unique_constraint(op.f("uq_missing_books_book_key"), "missing_books", ["book_key"])
    op.add_column("series", sa.Column("asin", sa.String(length=50), nullable=True))
    op.add_column("tasks", sa.Column("run_id", sa.Uuid(), nullable=True))
    op.create_unique_constraint(op.f("uq_tasks_run_id"), "tasks", ["run_id"])


def downgrade() -> None:
    op.drop_constraint(op.f("uq_tasks_run_id"), "tasks", type_="unique")
    op.drop_column("tasks", "run_id")
    op.drop_column("series", "asin")
    op.drop_constraint(op.f("uq_missing_books_book_key"), "missing_books", type_="unique")
    op.drop_column("missing_books", "book_key")
    op.drop_constraint(
        op.f("uq_failed_attempts_task_name_item_key_error_code"), "failed_attempts", type_="unique"
    )
    op.drop_index(op.f("ix_failed_attempts_item_key"), table_name="failed_attempts")
    op.drop_column("failed_attempts", "item_key")
    op.drop_column("authors", "asin")
    op.drop_table("recorder_versions")
    op.drop_index(op.f("ix_processed_events_processed_at"), table_name="processed_events")
    op.drop_table("processed_events")
