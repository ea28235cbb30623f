"""Apply the Alembic migrations (the `migrations` package) to a database URL."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("migrations")))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str) -> None:
    """Upgrade to the newest revision. Runs its own event loop: call it outside of one."""
    command.upgrade(alembic_config(database_url), "head")
