"""Apply the Alembic migrations (the `migrations` package) to a database URL."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from importlib.resources import files

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str) -> None:
    """Upgrade to the newest revision. Runs its own event loop: call it outside of one."""
    command.upgrade(alembic_config(database_url), "head")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # WAL before any worker opens the file: readers never wait for writers, and every worker's
        # change monitor sees one journal mode from the start. The mode is stored in the file.
        with closing(sqlite3.connect(url.database)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
