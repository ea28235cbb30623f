"""First start: a signing key for registry tokens and, while there is no administrator, `admin`.

Runs once in the supervisor, after migrations and before the workers start, so that every worker finds
the same key and nobody races to create the administrator. Replicas starting together on PostgreSQL take
turns through an advisory lock (on SQLite, writers take turns anyway).
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from sqlalchemy import text

from .db import Database
from .services.accounts import AccountError, count_admins, create_user
from .services.signing import ensure_signing_key
from .settings import Settings

log = logging.getLogger("berth.bootstrap")
ADMIN = "admin"
BOOTSTRAP_LOCK = 0x62657275  # any constant shared by every replica (migrations/env.py uses its neighbour)


def bootstrap(settings: Settings) -> None:
    asyncio.run(_bootstrap(settings))


async def _bootstrap(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        async with db.write() as session:
            if session.get_bind().dialect.name == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": BOOTSTRAP_LOCK})
            await ensure_signing_key(session)
            if settings.auth != "token" or await count_admins(session):
                return
            password = settings.admin_password or secrets.token_urlsafe(18)
            try:
                await create_user(session, ADMIN, password, is_admin=True)
            except AccountError as exc:
                log.error("no administrator exists and %r cannot be created: %s", ADMIN, exc)
                return
        if settings.admin_password:
            log.warning("created the administrator %r with the password in BERTH_ADMIN_PASSWORD", ADMIN)
        else:
            # Printed once, on purpose: the operator's only way to learn it. Nothing else logs secrets.
            log.warning("created the administrator %r with password %s (shown once; change it with "
                        "`berth-registry user passwd %s --password-stdin`)", ADMIN, password, ADMIN)
    finally:
        await db.close()
