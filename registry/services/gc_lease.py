"""A lease in the database that lets one process at a time run a job (the garbage collector), across
workers and replicas, on SQLite and PostgreSQL alike.

Taking it is one conditional UPDATE (`WHERE expires_at < now OR holder = me`): the database lets one
writer match the row, so two takers cannot both see rowcount 1. The holder renews it while it works; if
it dies, the lease expires after `ttl` and anyone may take it. Times are the takers' clocks: replicas
whose clocks differ by more than the TTL could overlap, which the collector tolerates (each deletion is
re-checked under row locks); the lease only saves duplicate work.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from ..db import Database
from ..db.base import as_utc
from ..db.database import insert_ignoring_conflicts, rowcount
from ..db.models import GcLease, utcnow

GC_LEASE = "gc"
DEFAULT_TTL = timedelta(minutes=5)


def holder_name() -> str:
    """Who we are, for the lease row and for an operator reading it: host, process, and a unique part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Lease:
    db: Database
    name: str = GC_LEASE
    ttl: timedelta = DEFAULT_TTL
    holder: str = field(default_factory=holder_name)

    async def acquire(self) -> bool:
        """Take the lease if it is free or expired (or ours already). True when we hold it now."""
        now = utcnow()
        async with self.db.write() as session:
            await session.execute(insert_ignoring_conflicts(
                session, GcLease, [{"name": self.name, "holder": "", "expires_at": now - self.ttl}], ["name"]))
            taken = await session.execute(update(GcLease).where(
                GcLease.name == self.name, or_(GcLease.expires_at < now, GcLease.holder == self.holder))
                .values(holder=self.holder, expires_at=now + self.ttl))
            return rowcount(taken) == 1

    async def renew(self) -> bool:
        """Extend the lease; False when it is no longer ours (it expired and someone else took it)."""
        async with self.db.write() as session:
            renewed = await session.execute(update(GcLease).where(
                GcLease.name == self.name, GcLease.holder == self.holder)
                .values(expires_at=utcnow() + self.ttl))
            return rowcount(renewed) == 1

    async def release(self) -> None:
        """Give the lease up at once (if still ours), so the next run need not wait for it to expire."""
        async with self.db.write() as session:
            await session.execute(update(GcLease).where(GcLease.name == self.name, GcLease.holder == self.holder)
                                  .values(holder="", expires_at=utcnow() - self.ttl))

    async def current(self) -> tuple[str, datetime] | None:
        """(holder, expiry) of a lease held now by anyone; None when it is free."""
        async with self.db.read() as session:
            row = (await session.execute(select(GcLease.holder, GcLease.expires_at)
                                         .where(GcLease.name == self.name))).first()
        if row is None or not row[0] or as_utc(row[1]) < utcnow():
            return None
        return row[0], as_utc(row[1])
