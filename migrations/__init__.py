"""Alembic migrations of the registry database (one small reversible revision per change)."""
