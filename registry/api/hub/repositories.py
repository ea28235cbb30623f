"""JSON API: who may see a repository (`/api/v1/repositories`) and a namespace's default for new ones.

The same operations as `berth-registry repo visibility` (registry/admin.py). A repository the caller
cannot read answers 404 exactly like a missing one.
"""

from __future__ import annotations

from aiohttp import web

from ... import errors
from ...oci.reference import is_valid_name
from ...services import accounts
from .body import Field, json_body
from .caller import authenticate, database, require_namespace_owner, require_repository_admin

VISIBILITY = Field(choices=("public", "private"))


def routes() -> list[web.RouteDef]:
    return [web.patch("/repositories/{namespace}/{name:.+}", change_visibility),
            web.put("/namespaces/{namespace}/visibility", change_default_visibility)]


async def change_visibility(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    repository = f"{request.match_info['namespace']}/{request.match_info['name']}"
    if not is_valid_name(repository):
        raise errors.NotFound(f"no repository {repository[:300]!r}")
    body = await json_body(request, visibility=VISIBILITY)
    async with database(request).write() as session:
        await require_repository_admin(session, caller, repository)
        await accounts.set_visibility(session, repository, body["visibility"] == "private")
        caller.record(session, "visibility_changed", repository, visibility=body["visibility"])
    return web.json_response({"name": repository, "visibility": body["visibility"]})


async def change_default_visibility(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    namespace = request.match_info["namespace"]
    body = await json_body(request, default=VISIBILITY)
    async with database(request).write() as session:
        await require_namespace_owner(session, caller, namespace)
        await accounts.set_default_visibility(session, namespace, body["default"] == "private")
        caller.record(session, "default_visibility_changed", namespace, default=body["default"])
    return web.json_response({"namespace": namespace, "default": body["default"]})
