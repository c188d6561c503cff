"""Alembic migrations of the shared schema (`abauto db upgrade` runs them)."""
