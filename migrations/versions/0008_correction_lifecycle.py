"""A metadata correction's life: proposed, applied, reverted.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

`metadata_corrections.correction_id` (uuid) names one correction through its life, and
`metadata_corrections.status` (varchar(20): proposed, applied, reverted) says which step
a row records: one row per step, so the rows of a correction are its history and the
newest is where it stands. Indexed, not unique, for that reason. Both nullable: rows
recorded before this revision are changes on their own (NULL status, read as applied),
and adding them rewrites nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "metadata_corrections", sa.Column("correction_id", postgresql.UUID(), nullable=True)
    )
    op.add_column("metadata_corrections", sa.Column("status", sa.String(20), nullable=True))
    op.create_index(
        op.f("ix_metadata_corrections_correction_id"), "metadata_corrections", ["correction_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_metadata_corrections_correction_id"), "metadata_corrections")
    op.drop_column("metadata_corrections", "status")
    op.drop_column("metadata_corrections", "correction_id")
