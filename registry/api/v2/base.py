"""`GET /v2/` (the API version check) and `GET /v2/_catalog` (the repository list)."""

from __future__ import annotations

from aiohttp import web

from ... import keys
from ...services.repositories import list_repositories
from .params import MAX_PAGE, next_link, page


async def ping(request: web.Request) -> web.Response:
    return web.json_response({})


async def catalog(request: web.Request) -> web.Response:
    n, last = page(request)
    limit = MAX_PAGE if n is None else n
    async with request.app[keys.database].read() as session:
        names = await list_repositories(session, limit + 1, last) if limit else []
    headers = {}
    if len(names) > limit:
        names = names[:limit]
        headers["Link"] = next_link(request, limit, names[-1])
    return web.json_response({"repositories": names}, headers=headers)
