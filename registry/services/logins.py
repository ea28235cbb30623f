"""Failed-login limits: per account and per client address, in fixed windows (never a permanent lock).

Counted in the database so that every worker and replica sees the same count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.accounts import LoginFailure
from ..db.base import as_utc, utcnow
from ..db.database import upsert


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_account: int = 10
    per_address: int = 50
    window: timedelta = timedelta(minutes=5)


def limit_keys(account: str, address: str) -> dict[str, str]:
    return {"account": f"account:{account.lower()[:200]}", "address": f"address:{address[:64]}"}


async def retry_after(session: AsyncSession, limits: LoginLimits, account: str, address: str) -> int | None:
    """Seconds until this login may be tried again, or None when it may be tried now."""
    keys = limit_keys(account, address)
    caps = {keys["account"]: limits.per_account, keys["address"]: limits.per_address}
    now = utcnow()
    waits = []
    for row in (await session.scalars(select(LoginFailure).where(LoginFailure.key.in_(caps)))).all():
        ends = as_utc(row.window_start) + limits.window
        if row.count >= caps[row.key] and ends > now:
            waits.append(int((ends - now).total_seconds()) + 1)
    return max(waits) if waits else None


async def record_failure(session: AsyncSession, limits: LoginLimits, account: str, address: str) -> None:
    # One statement per count, not a read and a write: on PostgreSQL concurrent failures would each read
    # the same count and write it back plus one, and all but one would be lost.
    now = utcnow()
    ended = LoginFailure.window_start <= now - limits.window
    for key in limit_keys(account, address).values():
        await session.execute(upsert(session, LoginFailure, {"key": key, "count": 1, "window_start": now},
                                     keys=["key"], update={
                                         "count": case((ended, 1), else_=LoginFailure.count + 1),
                                         "window_start": case((ended, now), else_=LoginFailure.window_start)}))


async def record_success(session: AsyncSession, account: str) -> None:
    """A good login clears the account's count (not the address's: that one tracks guessing)."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key == limit_keys(account, "")["account"]))
