"""The token server (Docker token authentication spec): `GET /token` and the OAuth2 `POST /token`.

A token grants the intersection of what was asked and what the caller may do; asking for more is never
an error. Anonymous callers get tokens too (for public pulls). With `offline_token=true` (GET) or
`access_type=offline` (POST), a logged-in user also gets a refresh token, which `docker login` keeps as
its identity token.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ... import errors, keys
from ...oci.reference import is_valid_name
from ...services import audit
from ...services.access import ANONYMOUS, Principal, actions_for
from ...services.credentials import REFRESH, authenticate_refresh, issue_token, scope_of
from ..auth import Gatekeeper, parse_basic

MAX_SCOPES = 32
Scope = tuple[str, str, set[str]]  # type, name, actions


def setup_token(app: web.Application) -> None:
    app.router.add_routes([web.get("/token", get_token), web.post("/token", post_token)])


def parse_scopes(values: list[str]) -> list[Scope]:
    """`type:name:actions` scopes (several per parameter when space-separated, as OAuth2 sends them)."""
    scopes = []
    for value in values:
        for scope in value.split():
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind and name:
                scopes.append((kind, name, {a for a in actions.split(",") if a}))
    return scopes[:MAX_SCOPES]


async def grant(gate: Gatekeeper, principal: Principal, scopes: list[Scope]) -> list[dict[str, Any]]:
    access = []
    for kind, name, wanted in scopes:
        if kind == "registry" and name == "catalog":
            granted: set[str] | frozenset[str] = {"*"} & wanted  # the catalog lists only what one may read
        elif kind == "repository" and is_valid_name(name):
            allowed = actions_for(await gate.level(principal, name))
            granted = set(allowed) if "*" in wanted else allowed & wanted
        else:
            continue
        access.append({"type": kind, "name": name, "actions": sorted(granted)})
    return access


def _check_service(gate: Gatekeeper, service: str | None) -> None:
    if service is not None and service != gate.settings.token_service:
        raise errors.Denied(f"this token server serves {gate.settings.token_service!r}, not {service[:80]!r}")


async def _answer(request: web.Request, principal: Principal, scopes: list[Scope], offline: bool) -> web.Response:
    gate = request.app[keys.gatekeeper]
    access = await grant(gate, principal, scopes)
    issued = gate.signer.issue(principal.name, access)
    body: dict[str, Any] = {"token": issued.token, "access_token": issued.token,
                            "expires_in": issued.expires_in, "issued_at": issued.issued_at}
    async with request.app[keys.database].write() as session:
        if offline and principal.user_id is not None:
            # No more than the login had: a read-only access token must not turn into a read-write session.
            body["refresh_token"] = (await issue_token(session, principal.user_id, scope_of(principal.max_level),
                                                       kind=REFRESH, label="offline login")).secret
        audit.record(session, principal.name, "token_issued", address=request.remote or "",
                     access=[f"{a['type']}:{a['name']}:{','.join(a['actions'])}" for a in access])
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def get_token(request: web.Request) -> web.Response:
    gate = request.app[keys.gatekeeper]
    query = request.query
    _check_service(gate, query.get("service"))
    principal = ANONYMOUS
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        principal = await gate.login(request, *parse_basic(credentials))
    offline = query.get("offline_token", "").lower() == "true"
    return await _answer(request, principal, parse_scopes(query.getall("scope", [])), offline)


async def post_token(request: web.Request) -> web.Response:
    gate = request.app[keys.gatekeeper]
    form = await request.post()
    _check_service(gate, _field(form, "service"))
    grant_type = _field(form, "grant_type")
    if grant_type == "password":
        principal = await gate.login(request, _field(form, "username") or "", _field(form, "password") or "")
    elif grant_type == "refresh_token":
        async with request.app[keys.database].read() as session:
            found = await authenticate_refresh(session, _field(form, "refresh_token") or "")
        if found is None:
            raise errors.Unauthorized("invalid refresh token")
        principal = found
    else:
        raise errors.InvalidParameter(f"unsupported grant_type {str(grant_type)[:40]!r}")
    # A new refresh token only for a password login: refreshing must not mint more of them.
    offline = grant_type == "password" and _field(form, "access_type") == "offline"
    return await _answer(request, principal, parse_scopes([_field(form, "scope") or ""]), offline)


def _field(form: Any, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None
