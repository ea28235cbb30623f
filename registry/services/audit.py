"""The audit log: logins, tokens issued, pushes, deletes, permission and visibility changes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.accounts import AuditEvent


def record(session: AsyncSession, actor: str, action: str, target: str = "", address: str = "",
           **detail: Any) -> None:
    """Add an event to the session's transaction: it is kept only if the change it describes is."""
    session.add(AuditEvent(actor=actor, action=action, target=target[:300], address=(address or "")[:64],
                           detail=json.dumps(detail, sort_keys=True) if detail else ""))


async def events(session: AsyncSession, since: datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
             "address": e.address, "detail": json.loads(e.detail) if e.detail else {}}
            for e in (await session.scalars(query)).all()]
