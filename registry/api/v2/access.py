"""Authorization in the v2 handlers: one call per handler, a no-op when the registry runs with --auth none."""

from __future__ import annotations

from aiohttp import web

from ... import keys
from ...services.access import READ
from ..auth import IDENTITY, Identity


async def require(request: web.Request, repository: str, action: str) -> None:
    """Let the request `pull`, `push` or `delete` in `repository`, or raise 401/403."""
    gate = request.app.get(keys.gatekeeper)
    if gate is not None:
        await gate.require(request, repository, action)


async def may(request: web.Request, repository: str, action: str) -> bool:
    gate = request.app.get(keys.gatekeeper)
    return gate is None or action in await gate.allowed(request, repository)


async def listable(request: web.Request, repository: str) -> bool:
    """Whether listings (catalog, search) may show `repository` to the caller: by its rights, not by the
    repositories its token names (a catalog token names none)."""
    gate = request.app.get(keys.gatekeeper)
    return gate is None or await gate.level((await gate.identify(request)).principal, repository) >= READ


async def require_login(request: web.Request, scope: str = "") -> Identity | None:
    """Any authenticated caller (anonymous tokens included); None when auth is off."""
    gate = request.app.get(keys.gatekeeper)
    if gate is None:
        return None
    identity = await gate.identify(request)
    if not identity.authenticated:
        raise gate.challenge(request, scope)
    return identity


def actor(request: web.Request) -> str:
    """The caller's name for the audit log ("" when anonymous or unchecked)."""
    identity = request.get(IDENTITY)
    return identity.principal.name if isinstance(identity, Identity) else ""
