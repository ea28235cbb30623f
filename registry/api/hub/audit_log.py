"""JSON API: the audit log for site administrators (`GET /api/v1/audit`), as `berth-registry audit` shows it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from aiohttp import web

from ... import errors
from ...services import audit
from .caller import authenticate, database, require_admin

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
AGE = re.compile(r"([0-9]{1,5})([mhd])")  # ASCII digits: str.isdigit() also admits "²", which int() refuses


def parse_since(value: str) -> datetime:
    """An ISO date-time (UTC unless it says otherwise), or an age such as 30m, 2h or 7d."""
    age = AGE.fullmatch(value)
    if age:
        return datetime.now(UTC) - timedelta(**{AGE_UNITS[age[2]]: int(age[1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise errors.ApiError(f"since={value[:40]!r}: use an ISO date-time or an age like 2h or 7d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_limit(value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= MAX_LIMIT:
        raise errors.ApiError(f"limit={value[:20]!r}: use a number from 1 to {MAX_LIMIT}")
    return int(value)


def routes() -> list[web.RouteDef]:
    return [web.get("/audit", list_events)]


async def list_events(request: web.Request) -> web.Response:
    require_admin(await authenticate(request))
    unknown = sorted(set(request.query) - {"since", "limit"})
    if unknown:
        raise errors.ApiError(f"unknown parameter(s): {', '.join(repr(n[:40]) for n in unknown[:5])}")
    since = parse_since(request.query["since"]) if "since" in request.query else None
    limit = parse_limit(request.query["limit"]) if "limit" in request.query else DEFAULT_LIMIT
    async with database(request).read() as session:
        events = await audit.events(session, since, limit)
    return web.json_response({"events": events})
