"""Recorder bookkeeping made cheaper to write.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

- `processed_events.processed_at` gets a BRIN index instead of a B-tree: the table is
  append-only in time order and the index only serves the daily retention delete, so a
  block-range summary is enough and costs almost nothing per insert.
- `recorder_versions.versions` becomes `json`: the recorder only ever writes and reads the
  whole document, so the binary `jsonb` form (built on every write, taken apart on every
  read) bought nothing.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_processed_events_processed_at"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="processed_events")
    op.create_index(INDEX, "processed_events", ["processed_at"], postgresql_using="brin")
    op.alter_column(
        "recorder_versions",
        "versions",
        type_=postgresql.JSON(),
        existing_type=postgresql.JSONB(),
        existing_nullable=False,
        postgresql_using="versions::json",
    )


def downgrade() -> None:
    op.alter_column(
        "recorder_versions",
        "versions",
        type_=postgresql.JSONB(),
        existing_type=postgresql.JSON(),
        existing_nullable=False,
        postgresql_using="versions::jsonb",
    )
    op.drop_index(INDEX, table_name="processed_events")
    op.create_index(INDEX, "processed_events", ["processed_at"])
