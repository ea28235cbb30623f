"""Failed-login limits: per account and per client address, in fixed windows (never a permanent lock).

Counted in the database so that every worker and replica sees the same count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
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
    now = utcnow()
    for key in limit_keys(account, address).values():
        row = await session.get(LoginFailure, key)
        if row is None or as_utc(row.window_start) + limits.window <= now:
            await session.execute(upsert(session, LoginFailure, {"key": key, "count": 1, "window_start": now},
                                         keys=["key"], update=["count", "window_start"]))
        else:
            row.count += 1


async def record_success(session: AsyncSession, account: str) -> None:
    """A good login clears the account's count (not the address's: that one tracks guessing)."""
    await session.execute(delete(LoginFailure).where(LoginFailure.key == limit_keys(account, "")["account"]))
