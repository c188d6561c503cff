"""A download's progress, and the services' heartbeats.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10

- `downloads.progress` (a float, 0 to 1), `downloaded_bytes`, `size_bytes`,
  `speed_bytes_per_second` (bigint), `eta_seconds`, `seeders`, `leechers` (int) and
  `progress_at`: qBittorrent's latest sample of the transfer, from "download
  progressed" events. Nullable: adding them rewrites nothing, and a download recorded
  before has none until its next sample.
- `service_instances`: one row per service process (`instance_id`, `<host>:<pid>`),
  from its "heartbeat sent" events: when it started, when it was last seen, whether it
  was ready and why not, and when it stopped cleanly (its last heartbeat says so).
  `abauto status` reads liveness from it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
PROGRESS = (
    ("progress", sa.Float()),
    ("downloaded_bytes", sa.BigInteger()),
    ("size_bytes", sa.BigInteger()),
    ("speed_bytes_per_second", sa.BigInteger()),
    ("eta_seconds", sa.Integer()),
    ("seeders", sa.Integer()),
    ("leechers", sa.Integer()),
    ("progress_at", TIMESTAMP),
)


def upgrade() -> None:
    for name, kind in PROGRESS:
        op.add_column("downloads", sa.Column(name, kind, nullable=True))
    op.create_table(
        "service_instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(255), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("hostname", sa.String(200), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("version", sa.String(100), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=True),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        sa.Column("ready", sa.Boolean(), nullable=True),
        sa.Column(
            "readiness", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=True
        ),
        sa.Column("first_seen_at", TIMESTAMP, nullable=True),
        sa.Column("last_seen_at", TIMESTAMP, nullable=True),
        sa.Column("stopped_at", TIMESTAMP, nullable=True),
        sa.Column("recorder_versions", postgresql.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_instances")),
        sa.UniqueConstraint("instance_id", name=op.f("uq_service_instances_instance_id")),
    )
    for column in ("service", "last_seen_at"):
        op.create_index(op.f(f"ix_service_instances_{column}"), "service_instances", [column])


def downgrade() -> None:
    op.drop_table("service_instances")
    for name, _ in reversed(PROGRESS):
        op.drop_column("downloads", name)
