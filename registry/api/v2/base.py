"""`GET /v2/` (the API version check) and `GET /v2/_catalog` (the repository list)."""

from __future__ import annotations

from aiohttp import web

from ... import keys
from ...services.repositories import list_repositories
from .access import listable, require_login
from .params import MAX_PAGE, next_link, page

CATALOG_SCOPE = "registry:catalog:*"


async def ping(request: web.Request) -> web.Response:
    # With token auth this is where `docker login` learns the realm: unauthenticated callers get 401.
    await require_login(request)
    return web.json_response({})


async def catalog(request: web.Request) -> web.Response:
    """Repository names in lexical order, only those the caller may read, with `n`/`last` paging."""
    identity = await require_login(request, CATALOG_SCOPE)
    gate = request.app.get(keys.gatekeeper)
    if gate is not None and identity is not None and identity.token_access is not None \
            and "*" not in identity.token_access.get(("registry", "catalog"), frozenset()):
        raise gate.challenge(request, CATALOG_SCOPE, error="insufficient_scope")
    n, last = page(request)
    limit = MAX_PAGE if n is None else n
    names: list[str] = []
    more = False
    async with request.app[keys.database].read() as session:
        while limit and len(names) <= limit:
            batch = await list_repositories(session, max(limit, 100) + 1, last)
            names += [name for name in batch if await listable(request, name)]
            if not batch or len(batch) <= max(limit, 100):
                break
            last = batch[-1]
    if len(names) > limit:
        names, more = names[:limit], True
    headers = {"Link": next_link(request, limit, names[-1])} if more else {}
    return web.json_response({"repositories": names}, headers=headers)
