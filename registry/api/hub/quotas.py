"""JSON API: a namespace's storage (`/api/v1/namespaces/{namespace}/usage` and `/quota`): the bytes of
the distinct blobs its repositories link, and the most they may (services/quotas.py). Usage is for the
namespace's owners and site administrators; quotas are set by site administrators."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ... import errors
from ...oci.reference import is_valid_name
from ...services import quotas
from . import openapi as oa
from .body import Field, json_body
from .caller import authenticate, database, require_admin, require_namespace_owner
from .repositories import NAMESPACE_PARAMETER

USAGE, QUOTA = "/namespaces/{namespace}/usage", "/namespaces/{namespace}/quota"
BYTES = Field(kind=int, maximum=quotas.MAX_QUOTA)
_ADMINS_ONLY = "only site administrators set quotas"


def routes() -> list[web.RouteDef]:
    return [web.get(USAGE, get_usage), web.put(QUOTA, put_quota), web.delete(QUOTA, delete_quota)]


def _namespace(request: web.Request) -> str:
    namespace = request.match_info["namespace"]
    if "/" in namespace or not is_valid_name(namespace):
        raise errors.NotFound(f"no namespace {namespace[:100]!r}")
    return namespace


async def get_usage(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    namespace = _namespace(request)
    async with database(request).read() as session:
        await require_namespace_owner(session, caller, namespace)
        found = await quotas.usage(session, namespace)
    return web.json_response(found.json())


async def put_quota(request: web.Request) -> web.Response:
    caller = require_admin(await authenticate(request), _ADMINS_ONLY)
    namespace = _namespace(request)
    body = await json_body(request, bytes=BYTES)
    async with database(request).write() as session:
        await quotas.set_quota(session, namespace, body["bytes"])
        caller.record(session, "quota_changed", namespace, bytes=body["bytes"])
        found = await quotas.usage(session, namespace)
    return web.json_response(found.json())


async def delete_quota(request: web.Request) -> web.Response:
    caller = require_admin(await authenticate(request), _ADMINS_ONLY)
    namespace = _namespace(request)
    async with database(request).write() as session:
        await quotas.set_quota(session, namespace, None)
        caller.record(session, "quota_removed", namespace)
    return web.Response(status=204)


_BYTES: oa.Schema = {"type": "integer", "minimum": 0, "maximum": quotas.MAX_QUOTA}
OPENAPI_SCHEMAS = {"Usage": oa.obj({"namespace": oa.STRING, "used_bytes": oa.COUNT, "blobs": oa.COUNT,
                                    "quota_bytes": oa.nullable(_BYTES)})}
_NAMESPACE = [NAMESPACE_PARAMETER]
OPENAPI_PATHS: dict[str, dict[str, Any]] = {
    USAGE: {"get": oa.operation(
        "getUsage", "The bytes a namespace's repositories store, and its quota", "repositories",
        {200: oa.answer(oa.ref("Usage"))}, errors=[404], parameters=_NAMESPACE,
        description="A blob linked by several of the namespace's repositories counts once. For the namespace's "
                    "user, the owners of its organization, and site administrators.")},
    QUOTA: {
        "put": oa.operation(
            "setQuota", "Limit the bytes a namespace's repositories may store", "repositories",
            {200: oa.answer(oa.ref("Usage"))}, errors=[404], parameters=_NAMESPACE,
            request=oa.body({"bytes": _BYTES}),
            description="Site administrators only; audited. A push that would go over it answers 403 DENIED; "
                        "what is stored already stays."),
        "delete": oa.operation(
            "deleteQuota", "Remove a namespace's quota", "repositories", {204: oa.answer(None, "Removed")},
            errors=[404], parameters=_NAMESPACE, description="Site administrators only; audited.")},
}
