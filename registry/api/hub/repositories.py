"""JSON API: repositories as Docker Hub's API shows them (`/api/v1/repositories`): listings, one
repository, and changing its descriptions and visibility (as `berth-registry repo visibility` does).

Reads need no login: anonymous callers see public repositories, and with --auth none everyone sees
everything. A repository the caller cannot read answers 404 exactly like a missing one.

`{namespace}/{name}` is a repository's first component and the rest. Single-component names (`busybox`)
are shown in the official namespace, as Docker Hub shows them: `/repositories/library/busybox` is
`library/busybox` when one is stored, else `busybox`; `repository` in the answer is the stored name, the
one to pull. Deeper names (`acme/team/app`) send the rest as one path segment, its slashes as %2F
(`/repositories/acme/team%2Fapp/tags`), as GitLab's API does; the repository itself also answers with raw
slashes (`/repositories/acme/team/app`) unless a later segment names one of its sub-resources.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ... import errors
from ...db.readpath import Reader
from ...oci.reference import is_valid_name
from ...services import accounts, hub
from ...services.access import Principal, readable_condition
from ...services.hub import FULL_DESCRIPTION_MAX, ORDERS, SHORT_DESCRIPTION_MAX, RepositoryView
from . import openapi as oa
from .body import Field, json_body
from .caller import (
    Caller,
    authenticate,
    database,
    identify,
    reader,
    require_namespace_owner,
    require_readable,
    require_repository_admin,
)
from .pagination import MAX_PAGE, MAX_PAGE_SIZE, page_json, page_of, query

REPOSITORY = "/repositories/{namespace}/{name}"  # sub-resources (tags, star, webhooks) take `name` as one segment
SUB_RESOURCES = ("tags", "star", "webhooks", "retention")
_RAW_NAME = "{name:[^/]+(?:/(?!(?:" + "|".join(SUB_RESOURCES) + r")(?:/|$))[^/]+)*}"
VISIBILITY = Field(choices=("public", "private"))
# Descriptions are text: no control characters, but tabs and line ends in the Markdown of the full one.
_LINE, _TEXT = r"[^\x00-\x1f\x7f]*", r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*"
DESCRIPTION = Field(required=False, max_length=SHORT_DESCRIPTION_MAX, pattern=re.compile(_LINE))
FULL_DESCRIPTION = Field(required=False, max_length=FULL_DESCRIPTION_MAX, pattern=re.compile(_TEXT))
MAX_TERM = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def routes() -> list[web.RouteDef]:
    one = "/repositories/{namespace}/" + _RAW_NAME
    return [web.get("/repositories", list_repositories), web.get("/repositories/{namespace}", list_namespace),
            web.get(one, get_repository), web.patch(one, change_repository),
            web.put("/namespaces/{namespace}/visibility", change_default_visibility)]


def summary_json(view: RepositoryView) -> dict[str, Any]:
    return {"name": view.name.split("/", 1)[-1], "namespace": view.namespace, "repository": view.name,
            "description": view.short_description,
            # Official repositories are readable by everyone, whatever their flag says.
            "is_private": view.is_private and not view.is_official, "is_official": view.is_official,
            "star_count": view.star_count, "pull_count": view.pull_count,
            "last_updated": view.last_pushed_at.isoformat() if view.last_pushed_at else None}


def repository_json(view: RepositoryView, starred: bool) -> dict[str, Any]:
    return {**summary_json(view), "full_description": view.full_description,
            "full_description_html": view.description_html, "has_starred": starred}


def path_name(request: web.Request) -> tuple[str, str]:
    """The path's (namespace, name), which must make a valid repository name; else 404."""
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    if not is_valid_name(f"{namespace}/{name}"):
        raise errors.NotFound(f"no repository {f'{namespace}/{name}'[:300]!r}")
    return namespace, name


async def readable_repository(session: Reader, principal: Principal, namespace: str, name: str) -> RepositoryView:
    """The repository `namespace/name` means, if `principal` may read it; else 404."""
    stored = await hub.stored_name(session, namespace, name)
    await require_readable(session, principal, stored)
    view = await hub.repository(session, stored)
    if view is None:  # site administrators (and everyone with --auth none) may read what is not there
        raise errors.NotFound(f"no repository {stored!r}")
    return view


async def has_starred(session: Reader, caller: Caller | None, repository: str) -> bool:
    return caller is not None and await hub.is_starred(session, caller.user_id, repository)


async def list_repositories(request: web.Request) -> web.Response:
    return await _listing(request, None)


async def list_namespace(request: web.Request) -> web.Response:
    namespace = request.match_info["namespace"]
    if not is_valid_name(namespace):  # `/` cannot be in it: the route takes one segment
        raise errors.NotFound(f"no namespace {namespace[:100]!r}")
    return await _listing(request, namespace)


async def _listing(request: web.Request, namespace: str | None) -> web.Response:
    caller = await identify(request)
    params = query(request, "q", "ordering", "page", "page_size")
    page, order, term = page_of(params), _ordering(params.get("ordering", "pulls")), _term(params.get("q", ""))
    async with database(request).read() as session:
        readable = await readable_condition(session, reader(request, caller))
        count, found = await hub.listing(session, readable, namespace=namespace, matching=term, order=order,
                                         page=page.number, page_size=page.size)
    return web.json_response(page_json(request, page, count, [summary_json(view) for view in found]))


def _ordering(value: str) -> str:
    if value not in ORDERS:
        raise errors.ApiError(f"ordering={value[:20]!r}: use one of {', '.join(ORDERS)}")
    return value


def _term(value: str) -> str:
    """A part of repository names (which are lowercase), at most MAX_TERM printable characters."""
    if len(value) > MAX_TERM or _CONTROL.search(value):
        raise errors.ApiError(f"q must be at most {MAX_TERM} printable characters")
    return value.strip().lower()


async def get_repository(request: web.Request) -> web.Response:
    caller = await identify(request)
    namespace, name = path_name(request)
    async with database(request).read() as session:
        view = await readable_repository(session, reader(request, caller), namespace, name)
        starred = await has_starred(session, caller, view.name)
    return web.json_response(repository_json(view, starred))


async def change_repository(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    namespace, name = path_name(request)
    body = await json_body(request, description=DESCRIPTION, full_description=FULL_DESCRIPTION,
                           visibility=Field(required=False, choices=VISIBILITY.choices))
    if not body:
        raise errors.ApiError("send at least one of 'description', 'full_description' and 'visibility'")
    async with database(request).write() as session:
        stored = await hub.stored_name(session, namespace, name)
        await require_repository_admin(session, caller, stored)
        view = await _change(session, caller, stored, body)
        starred = await has_starred(session, caller, stored)
    return web.json_response(repository_json(view, starred))


async def _change(session: AsyncSession, caller: Caller, repository: str, body: dict[str, Any]) -> RepositoryView:
    """Apply a PATCH, auditing each kind of change (`visibility_changed` as before descriptions existed)."""
    if await hub.repository(session, repository) is None:  # the caller may create it, but it is not there
        raise errors.NotFound(f"no repository {repository!r}")
    if "visibility" in body:
        await accounts.set_visibility(session, repository, body["visibility"] == "private")
        caller.record(session, "visibility_changed", repository, visibility=body["visibility"])
    described = sorted(set(body) & {"description", "full_description"})
    if described:
        await hub.set_descriptions(session, repository, body.get("description"), body.get("full_description"))
        caller.record(session, "description_changed", repository, fields=described)
    view = await hub.repository(session, repository)
    assert view is not None  # seen above, in this transaction
    return view


async def change_default_visibility(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    namespace = request.match_info["namespace"]
    body = await json_body(request, default=VISIBILITY)
    async with database(request).write() as session:
        await require_namespace_owner(session, caller, namespace)
        await accounts.set_default_visibility(session, namespace, body["default"] == "private")
        caller.record(session, "default_visibility_changed", namespace, default=body["default"])
    return web.json_response({"namespace": namespace, "default": body["default"]})


# -- The description (openapi.py) ---------------------------------------------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAMESPACE_PARAMETER = oa.parameter("namespace", "path", {"type": "string", "pattern": f"^{_COMPONENT}$"},
                                   "The first component of repository names; `library` holds the official ones")
NAME_PARAMETER = oa.parameter("name", "path", {"type": "string", "pattern": f"^{_COMPONENT}(?:/{_COMPONENT})*$"},
                              "The rest of the repository name, its slashes sent as %2F")
PAGE_PARAMETERS = [oa.parameter("page", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}),
                   oa.parameter("page_size", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE})]
_LISTING_PARAMETERS = [
    oa.parameter("q", "query", {"type": "string", "maxLength": MAX_TERM, "pattern": "^[^\\x00-\\x1f\\x7f]*$"},
                 "Only repositories whose full name contains this"),
    oa.parameter("ordering", "query", {"enum": list(ORDERS)},
                 "Most pulled first (the default), most starred, most recently pushed, or by name"),
    *PAGE_PARAMETERS]
_SUMMARY = {"name": oa.STRING, "namespace": oa.STRING, "repository": oa.STRING, "description": oa.STRING,
            "is_private": oa.BOOLEAN, "is_official": oa.BOOLEAN, "star_count": oa.COUNT, "pull_count": oa.COUNT,
            "last_updated": oa.nullable(oa.MOMENT)}
OPENAPI_SCHEMAS = {
    "RepositorySummary": oa.obj(_SUMMARY),
    "Repository": oa.obj({**_SUMMARY, "full_description": oa.STRING, "full_description_html": oa.STRING,
                          "has_starred": oa.BOOLEAN}),
}
_VISIBILITY: oa.Schema = {"enum": list(VISIBILITY.choices)}
_FIELDS: dict[str, oa.Schema] = {
    "description": {"type": "string", "maxLength": SHORT_DESCRIPTION_MAX, "pattern": f"^{_LINE}$"},
    "full_description": {"type": "string", "maxLength": FULL_DESCRIPTION_MAX, "pattern": f"^{_TEXT}$"},
    "visibility": _VISIBILITY}
_CHANGES = {**oa.body(_FIELDS, optional=_FIELDS),  # at least one of them, not null
            "anyOf": [{"required": [name], "properties": {name: {"not": {"type": "null"}}}} for name in _FIELDS]}
_LISTING = {200: oa.answer(oa.page(oa.ref("RepositorySummary")))}
_ONE = [NAMESPACE_PARAMETER, NAME_PARAMETER]
OPENAPI_PATHS = {
    "/repositories": {"get": oa.operation(
        "listRepositories", "The repositories the caller may read", "repositories", _LISTING,
        login=oa.OPTIONAL_LOGIN, parameters=_LISTING_PARAMETERS)},
    "/repositories/{namespace}": {"get": oa.operation(
        "listNamespaceRepositories", "A namespace's repositories the caller may read", "repositories", _LISTING,
        errors=[404], login=oa.OPTIONAL_LOGIN, parameters=[NAMESPACE_PARAMETER, *_LISTING_PARAMETERS],
        description="`library` lists the official repositories, single-component names included.")},
    REPOSITORY: {
        "get": oa.operation(
            "getRepository", "One repository", "repositories", {200: oa.answer(oa.ref("Repository"))}, errors=[404],
            login=oa.OPTIONAL_LOGIN, parameters=_ONE,
            description="`library/x` is the stored `library/x`, else the single-component `x`. `has_starred` "
                        "is false for anonymous callers; `full_description_html` is the Markdown rendered "
                        "safely (no raw HTML, no javascript: links)."),
        "patch": oa.operation(
            "changeRepository", "Change a repository's descriptions and visibility", "repositories",
            {200: oa.answer(oa.ref("Repository"))}, errors=[404], request=_CHANGES, parameters=_ONE,
            description="Needs admin on the repository; audited.")},
    "/namespaces/{namespace}/visibility": {"put": oa.operation(
        "changeDefaultVisibility", "Whether a namespace's new repositories start private", "repositories",
        {200: oa.answer(oa.obj({"namespace": oa.STRING, "default": _VISIBILITY}))}, errors=[404],
        request=oa.body({"default": _VISIBILITY}), parameters=oa.path_parameters("namespace"),
        description="For the namespace's user, the owners of its organization, and site administrators.")},
}
