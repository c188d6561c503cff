"""The release blocklist, and what a wanted book is like.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

- `blocked_releases`: one row per (book, release) that failed — at download (stalled,
  errored, refused by qBittorrent) or at import (wrong book, runtime, language,
  undecodable) — identified by info-hash, else by indexer guid. Never deleted.
- `missing_books.expectations` (`jsonb`): the book's runtime, language, edition and
  narrators, so a restarted downloader chooses, and the importer proves, by them.
- `missing_books.blocklist_cleared_at`: a book's blocklist is cleared by moving this
  moment, not by deleting rows.
- `downloads.release_guid` and `downloads.selection` (`jsonb`, `{}`): which release was
  taken, and why (each criterion's verdict for it and for the runner-up).
All new columns are nullable or have a constant default: adding them rewrites nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "blocked_releases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("missing_book_id", sa.Integer(), nullable=True),
        sa.Column("book_key", sa.String(600), nullable=False),
        sa.Column("release_key", sa.String(1010), nullable=False),
        sa.Column("info_hash", sa.String(255), nullable=True),
        sa.Column("guid", sa.String(1000), nullable=True),
        sa.Column("indexer", sa.String(100), nullable=True),
        sa.Column("release_title", sa.String(1000), nullable=True),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("reason_code", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("first_blocked_at", TIMESTAMP, nullable=True),
        sa.Column("last_blocked_at", TIMESTAMP, nullable=True),
        sa.Column("block_count", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=True),
        sa.Column("recorder_versions", postgresql.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocked_releases")),
        sa.ForeignKeyConstraint(
            ["missing_book_id"],
            ["missing_books.id"],
            name=op.f("fk_blocked_releases_missing_book_id_missing_books"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "book_key", "release_key", name=op.f("uq_blocked_releases_book_key_release_key")
        ),
    )
    for column in ("missing_book_id", "book_key", "info_hash", "reason_code", "last_blocked_at"):
        op.create_index(op.f(f"ix_blocked_releases_{column}"), "blocked_releases", [column])
    op.add_column("missing_books", sa.Column("expectations", postgresql.JSONB(), nullable=True))
    op.add_column("missing_books", sa.Column("blocklist_cleared_at", TIMESTAMP, nullable=True))
    op.add_column("downloads", sa.Column("release_guid", sa.String(1000), nullable=True))
    op.add_column(
        "downloads",
        sa.Column(
            "selection", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=True
        ),
    )


def downgrade() -> None:
    op.drop_column("downloads", "selection")
    op.drop_column("downloads", "release_guid")
    op.drop_column("missing_books", "blocklist_cleared_at")
    op.drop_column("missing_books", "expectations")
    op.drop_table("blocked_releases")
