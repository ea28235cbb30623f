"""JSON API: a repository's retention policy (`/api/v1/repositories/{namespace}/{name}/retention`): which
tags the garbage collector keeps (services/retention.py). Admin on the repository, for reading it too:
the answer lists the tags the policy would delete now, a dry run of it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ... import errors
from ...services import hub, retention
from . import openapi as oa
from .body import Field, json_body
from .caller import Caller, authenticate, database, require_repository_admin
from .repositories import NAME_PARAMETER, NAMESPACE_PARAMETER, REPOSITORY, path_name

RETENTION = REPOSITORY + "/retention"
KEEP = Field(kind=int, required=False, maximum=retention.MAX_KEEP)
DAYS = Field(kind=int, required=False, maximum=retention.MAX_DAYS)
PATTERN = Field(required=False, max_length=retention.MAX_PATTERN, pattern=retention._PATTERN)


def routes() -> list[web.RouteDef]:
    return [web.get(RETENTION, get_retention), web.put(RETENTION, put_retention),
            web.delete(RETENTION, delete_retention)]


async def _administered(request: web.Request, session: AsyncSession, caller: Caller) -> str:
    repository = await hub.stored_name(session, *path_name(request))
    await require_repository_admin(session, caller, repository)
    return repository


async def _answer(session: AsyncSession, repository: str) -> dict[str, Any]:
    policy = await retention.get_policy(session, repository)
    return {"repository": repository, "policy": policy.json() if policy else None,
            "would_delete": await retention.preview(session, repository)}


async def get_retention(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with database(request).read() as session:
        repository = await _administered(request, session, caller)
        return web.json_response(await _answer(session, repository))


async def put_retention(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    body = await json_body(request, tag_pattern=PATTERN, keep_last=KEEP, keep_days=DAYS)
    try:
        policy = retention.Policy(body.get("tag_pattern", "*"), body.get("keep_last"), body.get("keep_days"))
    except ValueError as exc:
        raise errors.ApiError(str(exc)) from None
    async with database(request).write() as session:
        repository = await _administered(request, session, caller)
        await retention.set_policy(session, repository, policy)
        caller.record(session, "retention_changed", repository, **policy.json())
        return web.json_response(await _answer(session, repository))


async def delete_retention(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with database(request).write() as session:
        repository = await _administered(request, session, caller)
        await retention.set_policy(session, repository, None)
        caller.record(session, "retention_removed", repository)
    return web.Response(status=204)


_KEEP: oa.Schema = {"type": "integer", "minimum": 0, "maximum": retention.MAX_KEEP}
_DAYS: oa.Schema = {"type": "integer", "minimum": 0, "maximum": retention.MAX_DAYS}
_FIELDS: dict[str, oa.Schema] = {
    "tag_pattern": {"type": "string", "minLength": 1, "maxLength": retention.MAX_PATTERN, "pattern": "^[!-~]+$"},
    "keep_last": _KEEP, "keep_days": _DAYS}
_POLICY = oa.obj({**_FIELDS, "keep_last": oa.nullable(_KEEP), "keep_days": oa.nullable(_DAYS)})
_REQUEST = {**oa.body(_FIELDS, optional=_FIELDS),  # keep_last or keep_days (or both), not null
            "anyOf": [{"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                      for name in ("keep_last", "keep_days")]}
OPENAPI_SCHEMAS = {"Retention": oa.obj({"repository": oa.STRING, "policy": oa.nullable(_POLICY),
                                        "would_delete": {"type": "array", "items": oa.STRING}})}
_ON_REPOSITORY = [NAMESPACE_PARAMETER, NAME_PARAMETER]
_ADMIN = "Needs admin on the repository; to those who cannot read it, it answers 404."
OPENAPI_PATHS: dict[str, dict[str, Any]] = {RETENTION: {
    "get": oa.operation(
        "getRetention", "The repository's retention policy and the tags it would delete now", "repositories",
        {200: oa.answer(oa.ref("Retention"))}, errors=[404], parameters=_ON_REPOSITORY, description=_ADMIN),
    "put": oa.operation(
        "setRetention", "Keep the newest tags matching a glob; the garbage collector deletes the others",
        "repositories", {200: oa.answer(oa.ref("Retention"))}, errors=[404], parameters=_ON_REPOSITORY,
        request=_REQUEST,
        description=_ADMIN + " Of the tags matching `tag_pattern` (a glob, default `*`), the `keep_last` most "
                             "recently pushed and those pushed within `keep_days` days are kept. Audited."),
    "delete": oa.operation(
        "deleteRetention", "Remove the repository's retention policy", "repositories",
        {204: oa.answer(None, "Removed")}, errors=[404], parameters=_ON_REPOSITORY, description=_ADMIN)}}
