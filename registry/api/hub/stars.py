"""JSON API: stars (`POST` and `DELETE /api/v1/repositories/{namespace}/{name}/star`), one per user and
repository, for any logged-in user who can read it. Both are idempotent and answer the new count."""

from __future__ import annotations

from aiohttp import web

from ...services import hub
from ...services.access import WRITE
from . import openapi as oa
from .caller import authenticate, database
from .repositories import NAME_PARAMETER, NAMESPACE_PARAMETER, REPOSITORY, path_name, readable_repository


def routes() -> list[web.RouteDef]:
    return [web.post(REPOSITORY + "/star", star), web.delete(REPOSITORY + "/star", unstar)]


async def star(request: web.Request) -> web.Response:
    return await _set_star(request, True)


async def unstar(request: web.Request) -> web.Response:
    return await _set_star(request, False)


async def _set_star(request: web.Request, starred: bool) -> web.Response:
    # A star is the caller's own mark, not a change to the repository: read-write tokens take it back too.
    caller = await authenticate(request, level=WRITE)
    namespace, name = path_name(request)
    async with database(request).write() as session:
        view = await readable_repository(session, caller.principal, namespace, name)
        count = await hub.set_star(session, caller.user_id, view.name, starred)
    return web.json_response({"star_count": count, "has_starred": starred})


_STARS = {200: oa.answer(oa.obj({"star_count": oa.COUNT, "has_starred": oa.BOOLEAN}))}
_ONE = [NAMESPACE_PARAMETER, NAME_PARAMETER]
OPENAPI_PATHS = {REPOSITORY + "/star": {
    "post": oa.operation("starRepository", "Star a repository (again: no change)", "repositories", _STARS,
                         errors=[404], parameters=_ONE, description="Needs a password or a read-write token."),
    "delete": oa.operation("unstarRepository", "Take a star back (again: no change)", "repositories", _STARS,
                           errors=[404], parameters=_ONE, description="Needs a password or a read-write token.")}}
