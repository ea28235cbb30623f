"""Signed-in browsers: web sessions with their CSRF tokens, stored by the hash of the cookie's secret.

The cookie carries a 256-bit random secret; the database keeps only its sha256 (like access tokens), so a
copy of the database lets nobody act as a signed-in user. A session lasts SESSION_TTL from sign-in and
ends early at sign-out. Each session has its own CSRF token, which every form of the pages carries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.accounts import Namespace, User
from ..db.base import as_utc, utcnow
from ..db.hub import WebSession
from ..db.readpath import Reader
from .access import Principal

SESSION_TTL = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session cookie stands for, as the account stands now."""
    user_id: int
    name: str
    is_admin: bool
    csrf_token: str
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        # A session is a password login: nothing caps it (unlike an access token's scope).
        return Principal(name=self.name, user_id=self.user_id, is_admin=self.is_admin)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(given: str, expected: str) -> bool:
    """Constant-time comparison of a form's CSRF token with the expected one (both non-empty)."""
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def start_session(session: AsyncSession, user_id: int, ttl: timedelta = SESSION_TTL) -> str:
    """A new session for the user; returns the secret for the cookie (shown to the browser only).
    Expired sessions of anyone are cleared on the way: sign-ins are rare enough to carry that cost."""
    now = utcnow()
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    session.add(WebSession(id_hash=_hash(secret), user_id=user_id, csrf_token=new_csrf_token(),
                           created_at=now, expires_at=now + ttl))
    await session.flush()
    return secret


async def find_session(session: Reader, secret: str) -> SignedIn | None:
    """The live session the cookie's secret names, or None (unknown, ended or expired)."""
    if not secret or len(secret) > 100:
        return None
    row = (await session.execute(
        select(WebSession.user_id, Namespace.name, User.is_admin, WebSession.csrf_token, WebSession.expires_at)
        .join(User, User.id == WebSession.user_id).join(Namespace, Namespace.id == User.id)
        .where(WebSession.id_hash == _hash(secret)))).first()
    if row is None or as_utc(row.expires_at) <= utcnow():
        return None
    return SignedIn(row.user_id, row.name, row.is_admin, row.csrf_token, as_utc(row.expires_at))


async def end_session(session: AsyncSession, secret: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id_hash == _hash(secret)))


async def end_user_sessions(session: AsyncSession, user_id: int) -> None:
    """Sign the user out everywhere (for a password change or an account being disabled)."""
    await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
