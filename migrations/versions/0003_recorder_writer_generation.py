"""Recorder writer generation: one row every recorder transaction increments first.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

The row lock taken by the increment makes recorder transactions take turns (it replaces
a transaction advisory lock), and the number lets a batch that was projected on top of
its predecessor's not-yet-committed state check that nobody else wrote in between.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recorder_writer",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recorder_writer")),
    )


def downgrade() -> None:
    op.drop_table("recorder_writer")
