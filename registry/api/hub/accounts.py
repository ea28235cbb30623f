"""JSON API: users (`/api/v1/user`, `/api/v1/users`) and their personal access tokens.

The same operations as `berth-registry user ...` and `berth-registry token create` (registry/admin.py),
each in one transaction with its audit event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from ... import errors, keys
from ...services import accounts, credentials, logins
from ...services.credentials import TOKEN_SCOPES, TokenInfo, personal_tokens
from .body import EMAIL, PASSWORD, Field, json_body
from .caller import Caller, authenticate, database, require_admin, require_full_login, require_self_or_admin

NO_CONTENT = 204


def routes() -> list[web.RouteDef]:
    user = "/users/{name}"
    return [web.get("/user", whoami), web.get("/users", list_users), web.post("/users", create_user),
            web.get(user, get_user, name="user"), web.delete(user, delete_user),
            web.put(user + "/password", change_password), web.post(user + "/tokens", create_token),
            web.get(user + "/tokens", list_tokens), web.delete(user + r"/tokens/{id:[0-9]{1,18}}", revoke_token)]


def user_json(user: accounts.UserInfo) -> dict[str, Any]:
    return {"name": user.name, "email": user.email, "admin": user.is_admin}


def token_json(token: TokenInfo) -> dict[str, Any]:
    return {"id": token.id, "scope": token.scope, "label": token.label, "created_at": _moment(token.created_at),
            "expires_at": _moment(token.expires_at), "last_used_at": _moment(token.last_used_at)}


def _moment(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def whoami(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    async with database(request).read() as session:
        user = await accounts.get_user(session, caller.name)
    return web.json_response(user_json(user))


async def list_users(request: web.Request) -> web.Response:
    require_admin(await authenticate(request))
    async with database(request).read() as session:
        users = await accounts.list_users(session)
    return web.json_response({"users": [user_json(user) for user in users]})


async def create_user(request: web.Request) -> web.Response:
    caller = require_admin(await authenticate(request))
    body = await json_body(request, name=Field(max_length=30), password=PASSWORD,
                           email=Field(required=False, max_length=254, pattern=EMAIL),
                           admin=Field(bool, required=False))
    async with database(request).write() as session:
        if await accounts.namespace_kind(session, body["name"]):
            raise errors.Conflict(f"the name {body['name']!r} is taken")
        user = await accounts.create_user(session, body["name"], body["password"], email=body.get("email"),
                                          is_admin=body.get("admin", False))
        caller.record(session, "user_created", user.name, admin=user.is_admin)
    location = request.app.router["user"].url_for(name=user.name)
    return web.json_response(user_json(user), status=201, headers={"Location": str(location)})


async def get_user(request: web.Request) -> web.Response:
    name = require_self_or_admin(await authenticate(request), request.match_info["name"])
    async with database(request).read() as session:
        user = await accounts.get_user(session, name)
    return web.json_response(user_json(user))


async def delete_user(request: web.Request) -> web.Response:
    caller = require_admin(await authenticate(request))
    name = request.match_info["name"]
    async with database(request).write() as session:
        if (await accounts.get_user(session, name)).is_admin and await accounts.count_admins(session) == 1:
            raise errors.Conflict("the last site administrator cannot be deleted")
        await accounts.delete_user(session, name)
        caller.record(session, "user_deleted", name)
    return web.Response(status=NO_CONTENT)


async def change_password(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    name = require_self_or_admin(caller, request.match_info["name"])
    body = await json_body(request, password=PASSWORD, current_password=Field(required=False, max_length=1024))
    if name == caller.name:
        await _confirm_password(request, caller, body.get("current_password"))
    async with database(request).write() as session:
        await accounts.set_password(session, name, body["password"])
        caller.record(session, "password_changed", name)
    return web.Response(status=NO_CONTENT)


async def _confirm_password(request: web.Request, caller: Caller, password: str | None) -> None:
    """Changing your own password needs the current one: a stolen token must not take the account over.
    Wrong guesses count as failed logins, so this is no way around the login rate limits."""
    if password is None:
        raise errors.ApiError("'current_password' is required to change your own password")
    limits = request.config_dict[keys.gatekeeper].login_limits
    async with database(request).read() as session:
        wait = await logins.retry_after(session, limits, caller.name, caller.address)
    if wait is not None:
        raise errors.TooManyRequests(f"too many failed logins: try again in {wait} s",
                                     headers={"Retry-After": str(wait)})
    async with database(request).write() as session:
        if await credentials.password_matches(session, caller.user_id, password):
            return
        await logins.record_failure(session, limits, caller.name, caller.address)
        caller.record(session, "password_change_refused", caller.name)
    raise errors.Forbidden("'current_password' is not your password")


async def create_token(request: web.Request) -> web.Response:
    caller = require_full_login(await authenticate(request))
    name = require_self_or_admin(caller, request.match_info["name"])
    body = await json_body(request, scope=Field(choices=tuple(TOKEN_SCOPES)),
                           label=Field(required=False, max_length=100),
                           expires_days=Field(int, required=False, minimum=1, maximum=3650))
    async with database(request).write() as session:
        user = await accounts.get_user(session, name)
        issued = await credentials.issue_token(session, user.id, body["scope"], expires_days=body.get("expires_days"),
                                   label=body.get("label", ""))
        [token] = await personal_tokens(session, user.id, issued.id)
        caller.record(session, "access_token_created", name, scope=issued.scope, token_id=issued.id)
    return web.json_response({"token": issued.secret, **token_json(token)}, status=201,
                             headers={"Cache-Control": "no-store"})


async def list_tokens(request: web.Request) -> web.Response:
    name = require_self_or_admin(await authenticate(request), request.match_info["name"])
    async with database(request).read() as session:
        tokens = await personal_tokens(session, (await accounts.get_user(session, name)).id)
    return web.json_response({"tokens": [token_json(token) for token in tokens]})


async def revoke_token(request: web.Request) -> web.Response:
    caller = await authenticate(request)
    name = require_self_or_admin(caller, request.match_info["name"])
    token_id = int(request.match_info["id"])  # the route admits 1 to 18 digits
    async with database(request).write() as session:
        user = await accounts.get_user(session, name)
        if not await personal_tokens(session, user.id, token_id):
            raise errors.NotFound(f"no access token {token_id} of {name!r}")
        await credentials.revoke_token(session, user.id, token_id)
        caller.record(session, "access_token_revoked", name, token_id=token_id)
    return web.Response(status=NO_CONTENT)

