"""Alembic environment: runs migrations on the async engine of the configured database URL."""

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from registry.db import Base
from registry.settings import load_settings

config = context.config
url = config.get_main_option("sqlalchemy.url") or load_settings().database_url


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    # The search index of 0004 is raw SQL no model describes (FTS5 tables and their shadow tables).
    return not (name or "").startswith(("repository_search", "ix_repository_search"))


# Replicas starting together all migrate: on PostgreSQL the first takes this lock and the others wait, then
# find the database at head. The upgrade is one transaction (transactional DDL), which holds the lock.
MIGRATION_LOCK = 0x62657274  # "bert", any constant shared by every replica


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, include_name=include_name,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()


async def run_online() -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_online())
