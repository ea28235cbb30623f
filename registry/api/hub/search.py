"""Docker's v1 search: `GET /v1/search?q=TERM&n=25&page=1` and the `GET /v1/_ping` docker sends before it.

`docker search HOST/TERM` (the engine) pings, then searches with `X-Docker-Token: true`; logged in with a
password it sends Basic credentials, logged in with an identity token a registry token for
`registry:catalog:search`. podman tries this endpoint before falling back to /v2/_catalog. Both accept
only a 200 with the body below (anything else is "Unexpected status code"), so anonymous callers get one
too, listing what anyone may read. Mounted with every --auth mode. Matching and ranking: services.search.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncSession

from ... import errors, keys
from ...services.access import Principal, readable_condition
from ...services.search import MAX_TERM, SearchPage, search_repositories

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 25, 100
_NUMBER = re.compile(r"[0-9]{1,9}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def setup_search(app: web.Application) -> None:
    # On the main app, not a sub-app: the Gatekeeper is looked up in request.app.
    app.router.add_routes([web.get("/v1/_ping", ping), web.get("/v1/search", search)])


async def ping(request: web.Request) -> web.Response:
    # docker reads `{"standalone": ...}` here and tolerates anything; an empty object keeps its defaults.
    return web.json_response({})


async def search(request: web.Request) -> web.Response:
    term = _term(request.query.getall("q", []))
    page_size = _number(request.query.get("n"), "n", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    page = _number(request.query.get("page"), "page", 1, None)
    caller = await _caller(request)
    async with request.app[keys.database].read() as session:
        found = await search_repositories(session, term, page, page_size, await _readable(session, caller))
    return web.json_response(result_json(found))


def result_json(found: SearchPage) -> dict[str, Any]:
    return {"num_results": found.total, "query": found.query, "page": found.page, "num_pages": found.pages,
            "page_size": found.page_size,
            "results": [{"name": hit.name, "description": hit.description, "star_count": hit.star_count,
                         "is_official": hit.is_official, "is_automated": False} for hit in found.hits]}


async def _caller(request: web.Request) -> Principal | None:
    """Who asks, by its rights now, whatever scope its token lists (docker asks for
    `registry:catalog:search`); None when the registry runs without authentication. Bad credentials
    are refused before any search."""
    gate = request.app.get(keys.gatekeeper)
    return None if gate is None else (await gate.identify(request)).principal


async def _readable(session: AsyncSession, caller: Principal | None) -> ColumnElement[bool]:
    # The SQL form of the access check (proven equal to it): search filters in its queries.
    return true() if caller is None else await readable_condition(session, caller)


def _term(values: list[str]) -> str:
    if len(values) != 1 or not values[0].strip():
        raise errors.InvalidParameter("q (one search term) is required")
    term = values[0]
    if len(term) > MAX_TERM or _CONTROL.search(term):
        raise errors.InvalidParameter(f"q must be at most {MAX_TERM} printable characters")
    return term


def _number(value: str | None, name: str, default: int, maximum: int | None) -> int:
    if value is None:
        return default
    if not _NUMBER.fullmatch(value) or int(value) < 1 or (maximum is not None and int(value) > maximum):
        limit = f"from 1 to {maximum}" if maximum else "of 1 or more"
        raise errors.InvalidParameter(f"{name} must be a number {limit}, not {value[:20]!r}")
    return int(value)
