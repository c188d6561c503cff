"""How sure a gap is, and why it exists.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

`missing_books.confidence` (a float, 0 to 1) and `missing_books.evidence` (`text`): an
author gap is less certain than a series gap, and one below the confidence threshold is
recorded with `download_status` 'needs_review' instead of being downloaded. Nullable:
adding them rewrites nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("missing_books", sa.Column("confidence", sa.Float(), nullable=True))
    op.add_column("missing_books", sa.Column("evidence", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("missing_books", "evidence")
    op.drop_column("missing_books", "confidence")
