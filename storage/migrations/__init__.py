"""Alembic migrations of the Kabinet schema."""
