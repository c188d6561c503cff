"""Processed events keep a fingerprint of their content.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

`processed_events.fingerprint` (`bytea`, a 16-byte digest of the event as it travels on
Kafka) lets the recorder tell an exact redelivery of an applied event (a silent no-op)
from a different event reusing its id (refused, dead-lettered), whichever batch each
came in. Rows recorded before have none: a later copy of those counts as a redelivery.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, however many ids are remembered.
    op.add_column("processed_events", sa.Column("fingerprint", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("processed_events", "fingerprint")
