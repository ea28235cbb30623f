"""Credentials: passwords (passlib, argon2), personal access tokens, refresh tokens and robot secrets.

Passwords are hashed slowly (argon2id) and checked in a thread. Tokens and robot secrets are 256-bit
random strings, so a fast sha256 of them is safe to store and to look up by. Every secret is shown once,
when it is made.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from passlib.context import CryptContext
from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.accounts import AccessToken, Namespace, Robot, User
from ..db.base import as_utc, is_row_id, utcnow
from ..db.database import rowcount
from ..db.readpath import Reader
from ..token_scopes import TOKEN_SCOPE_LEVELS
from .access import ANONYMOUS, LEVELS, Principal
from .errors import AccountError

# argon2id at OWASP's minimum (19 MiB, 2 passes): about 20 ms here. pbkdf2_sha256 verifies old hashes.
PASSWORDS = CryptContext(schemes=["argon2", "pbkdf2_sha256"], deprecated="auto",
                         argon2__memory_cost=19456, argon2__time_cost=2, argon2__parallelism=1)
TOKEN_SCOPES = {scope: LEVELS[level] for scope, level in TOKEN_SCOPE_LEVELS.items()}
PERSONAL, REFRESH = "personal", "refresh"
_PREFIXES = {PERSONAL: "bpat_", REFRESH: "brt_", "robot": "brobot_"}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: int
    secret: str  # shown once
    scope: str
    expires_at: datetime | None


def scope_of(level: int) -> str:
    """The token scope that caps a principal at `level`."""
    return next(scope for scope, cap in TOKEN_SCOPES.items() if cap == level)


def hash_password(password: str) -> str:
    return PASSWORDS.hash(password)


async def verify_password(password: str, password_hash: str) -> bool:
    return await asyncio.to_thread(PASSWORDS.verify, password, password_hash)


def new_secret(kind: str) -> str:
    return _PREFIXES[kind] + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue_token(session: AsyncSession, user_id: int, scope: str, *, kind: str = PERSONAL,
                      expires_days: int | None = None, label: str = "") -> IssuedToken:
    if scope not in TOKEN_SCOPES:
        raise AccountError(f"unknown token scope {scope!r} (use {', '.join(TOKEN_SCOPES)})")
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise AccountError("a token expires after 1 to 3650 days")
    secret = new_secret(kind)
    expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
    token = AccessToken(user_id=user_id, kind=kind, label=label, token_hash=secret_hash(secret), scope=scope,
                        expires_at=expires_at)
    session.add(token)
    await session.flush()
    return IssuedToken(token.id, secret, scope, expires_at)


async def revoke_token(session: AsyncSession, user_id: int, token_id: int) -> bool:
    if not is_row_id(token_id):
        return False
    result = await session.execute(delete(AccessToken).where(AccessToken.id == token_id,
                                                             AccessToken.user_id == user_id))
    return rowcount(result) > 0


class _Account(NamedTuple):
    id: int
    name: str
    is_admin: bool
    password_hash: str


@functools.cache
def _dummy_hash() -> str:
    """Compared against when the user does not exist, so that a wrong name costs as long as a wrong
    password. Made on first use: hashing at import would slow every process that imports this."""
    return PASSWORDS.hash(secrets.token_urlsafe(16))


async def authenticate(session: Reader, username: str, secret: str) -> Principal | None:
    """The principal Basic credentials prove, or None: a password, a personal access token (used as the
    password, as with Docker Hub), or a robot's secret for "<org>+<robot>"."""
    if "+" in username:
        return await _robot(session, username, secret)
    account = await _account(session, Namespace.name == username)
    if secret.startswith(_PREFIXES[PERSONAL]):
        return await _token_holder(session, account, secret, PERSONAL) if account else None
    if account is None:
        await verify_password(secret, _dummy_hash())
        return None
    if not await verify_password(secret, account.password_hash):
        return None
    return Principal(name=account.name, user_id=account.id, is_admin=account.is_admin)


async def authenticate_refresh(session: Reader, refresh_token: str) -> Principal | None:
    """The principal an offline login's refresh token stands for (OAuth2 grant_type=refresh_token)."""
    user_id = await session.scalar(select(AccessToken.user_id).where(
        AccessToken.token_hash == secret_hash(refresh_token), AccessToken.kind == REFRESH))
    account = await _account(session, User.id == user_id) if user_id is not None else None
    return await _token_holder(session, account, refresh_token, REFRESH) if account else None


async def principal_named(session: Reader, name: str) -> Principal:
    """The principal a registry token's subject names, as it stands now (anonymous if it is gone)."""
    if "+" in name:
        organization, _, robot = name.partition("+")
        robot_id = await session.scalar(select(Robot.id).join(Namespace, Namespace.id == Robot.organization_id)
                                        .where(Namespace.name == organization, Robot.name == robot))
        return Principal(name=name, robot_id=robot_id, robot_organization=organization) if robot_id else ANONYMOUS
    account = await _account(session, Namespace.name == name) if name else None
    return Principal(name=name, user_id=account.id, is_admin=account.is_admin) if account else ANONYMOUS


async def _account(session: Reader, condition: ColumnElement[bool]) -> _Account | None:
    row = (await session.execute(select(User.id, Namespace.name, User.is_admin, User.password_hash)
                                 .join(Namespace, Namespace.id == User.id).where(condition))).first()
    return _Account(row[0], row[1], row[2], row[3]) if row else None


async def _token_holder(session: Reader, account: _Account, secret: str, kind: str) -> Principal | None:
    row = (await session.execute(select(AccessToken.scope, AccessToken.expires_at).where(
        AccessToken.token_hash == secret_hash(secret), AccessToken.user_id == account.id,
        AccessToken.kind == kind))).first()
    if row is None or (row.expires_at is not None and as_utc(row.expires_at) <= utcnow()):
        return None
    return Principal(name=account.name, user_id=account.id, is_admin=account.is_admin,
                     max_level=TOKEN_SCOPES[row.scope])


async def _robot(session: Reader, username: str, secret: str) -> Principal | None:
    organization, _, name = username.partition("+")
    row = (await session.execute(select(Robot.id, Robot.secret_hash).join(
        Namespace, Namespace.id == Robot.organization_id).where(Namespace.name == organization,
                                                               Robot.name == name))).first()
    if row is None or not hmac.compare_digest(row[1], secret_hash(secret)):
        return None
    return Principal(name=username, robot_id=row[0], robot_organization=organization)


# -- For the JSON API (registry/api/hub): Bearer personal access tokens, token listings, re-checking a password.

@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A personal access token as its owner may see it again: everything but the secret."""
    id: int
    scope: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


async def authenticate_personal_token(session: Reader, secret: str) -> Principal | None:
    """The principal a personal access token proves on its own (`Authorization: Bearer`, no username),
    capped by its scope; None when it is unknown, revoked or expired."""
    if not secret.startswith(_PREFIXES[PERSONAL]):
        return None
    user_id = await session.scalar(select(AccessToken.user_id).where(
        AccessToken.token_hash == secret_hash(secret), AccessToken.kind == PERSONAL))
    account = await _account(session, User.id == user_id) if user_id is not None else None
    return await _token_holder(session, account, secret, PERSONAL) if account else None


async def personal_tokens(session: AsyncSession, user_id: int, token_id: int | None = None) -> list[TokenInfo]:
    """The user's personal access tokens, oldest first (or just the one with `token_id`)."""
    query = select(AccessToken).where(AccessToken.user_id == user_id, AccessToken.kind == PERSONAL)
    if token_id is not None:
        if not is_row_id(token_id):
            return []
        query = query.where(AccessToken.id == token_id)
    return [TokenInfo(t.id, t.scope, t.label, as_utc(t.created_at),
                      as_utc(t.expires_at) if t.expires_at else None,
                      as_utc(t.last_used_at) if t.last_used_at else None)
            for t in await session.scalars(query.order_by(AccessToken.id))]


async def password_matches(session: Reader, user_id: int, password: str) -> bool:
    """Whether `password` is the user's password (an access token never counts as one)."""
    account = await _account(session, User.id == user_id)
    return account is not None and await verify_password(password, account.password_hash)


async def credential_fingerprint(session: Reader, username: str, secret: str) -> str | None:
    """What a remembered login rests on: the user's password hash, or the hash of the access token or
    robot secret while it is still valid. When it changes or goes, the remembered login is void."""
    if "+" in username or secret.startswith(_PREFIXES[PERSONAL]):
        principal = await (_robot(session, username, secret) if "+" in username
                           else authenticate_personal_token(session, secret))
        return secret_hash(secret) if principal and principal.name == username else None
    account = await _account(session, Namespace.name == username)
    return account.password_hash if account else None


async def mark_token_used(session: AsyncSession, secret: str) -> None:
    """Note when an access token last logged in (as often as logins are checked, not on every request)."""
    if secret.startswith(_PREFIXES[PERSONAL]):
        await session.execute(update(AccessToken).where(AccessToken.token_hash == secret_hash(secret))
                              .values(last_used_at=utcnow()))
