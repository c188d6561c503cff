"""Recorder bookkeeping made cheaper to write.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

- Merge versions move into the rows they describe: every table the recorder maintains
  gets a `recorder_versions` `json` column, and the `recorder_versions` table goes. A
  batch then reads a row and its versions in one lookup and writes them in one upsert,
  instead of a second table's lookup and upsert on the path every batch waits for.
  `json`, not `jsonb`: the document is only ever written and read whole.
- `processed_events.processed_at` gets a BRIN index instead of a B-tree: the table is
  append-only in time order and the index only serves the daily retention delete.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_processed_events_processed_at"

# table, recorder kind, natural key over alias t (downloads: their gap's key, alias m)
TABLES = (
    ("books", "book", "t.abs_id", ""),
    ("series", "series", "t.name", ""),
    ("authors", "author", "t.name", ""),
    ("missing_books", "missing", "t.book_key", ""),
    ("downloads", "download", "m.book_key", "JOIN missing_books m ON m.id = t.missing_book_id"),
    ("tasks", "task", "t.run_id::text", ""),
    (
        "failed_attempts",
        "failure",
        "t.task_name || '|' || t.item_key || '|' || t.error_code",
        "",
    ),
)


def upgrade() -> None:
    op.drop_index(INDEX, table_name="processed_events")
    op.create_index(INDEX, "processed_events", ["processed_at"], postgresql_using="brin")
    for table, kind, key, join in TABLES:
        op.add_column(table, sa.Column("recorder_versions", postgresql.JSON(), nullable=True))
        op.execute(
            f"UPDATE {table} AS u SET recorder_versions = v.versions::json "  # noqa: S608
            f"FROM {table} t {join} JOIN recorder_versions v "
            f"ON v.kind = '{kind}' AND v.natural_key = {key} WHERE u.id = t.id"
        )
    op.drop_table("recorder_versions")


def downgrade() -> None:
    op.create_table(
        "recorder_versions",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("natural_key", sa.String(length=600), nullable=False),
        sa.Column("versions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("kind", "natural_key", name=op.f("pk_recorder_versions")),
    )
    for table, kind, key, join in TABLES:
        op.execute(
            "INSERT INTO recorder_versions (kind, natural_key, versions) "  # noqa: S608
            f"SELECT '{kind}', {key}, t.recorder_versions::jsonb FROM {table} t {join} "
            "WHERE t.recorder_versions IS NOT NULL"
        )
        op.drop_column(table, "recorder_versions")
    op.drop_index(INDEX, table_name="processed_events")
    op.create_index(INDEX, "processed_events", ["processed_at"])
