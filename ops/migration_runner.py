"""Running Alembic programmatically, so `abauto db …` works from any directory."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations

MIGRATIONS_DIR = Path(migrations.__file__).resolve().parent


def alembic_config() -> Config:
    """An Alembic configuration pointing at the project's migrations (URL from settings)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(revision: str = "head") -> None:
    """`alembic upgrade <revision>` against `DATABASE_URL`."""
    command.upgrade(alembic_config(), revision)


def downgrade(revision: str) -> None:
    """`alembic downgrade <revision>` against `DATABASE_URL`."""
    command.downgrade(alembic_config(), revision)


def check() -> None:
    """Fail if the models and the migrated database differ (`alembic check`)."""
    command.check(alembic_config())
