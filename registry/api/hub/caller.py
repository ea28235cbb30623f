"""Who calls the JSON API and what they may touch: authentication, token scopes, and the refusals.

A caller proves who it is with `Authorization: Basic` (a password or a personal access token, checked by
the Gatekeeper, which rate-limits and audits logins) or `Authorization: Bearer <personal access token>`.
What the caller cannot see answers 404 with the very message a missing thing gets, so that a refusal
never tells a stranger that an organization, a user or a private repository exists.

Reads of public things need no login, as on Docker Hub: an anonymous caller sees public repositories.
With --auth none there are no accounts: everyone reads everything, and whatever needs a caller answers 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from ... import errors, keys
from ...db import Database
from ...db.readpath import Reader
from ...services import accounts, audit
from ...services.access import ADMIN, ANONYMOUS, LEVEL_NAMES, READ, WRITE, Principal, repository_level
from ...services.credentials import authenticate_personal_token
from ..auth import parse_basic

REALM = "berth"
# A personal access token's scope caps what it may do here as on /v2: read-only tokens only look,
# read-write tokens change things, and only read-write-delete tokens (or passwords) delete.
METHOD_LEVELS = {"GET": READ, "HEAD": READ, "POST": WRITE, "PUT": WRITE, "PATCH": WRITE, "DELETE": ADMIN}
SCOPE_NAMES = {READ: "read", WRITE: "read-write", ADMIN: "read-write-delete"}
NO_ACCOUNTS = "this registry runs without accounts (--auth none): there is no one to log in as"
# With --auth none everyone reads everything: reads are checked as for a site administrator capped at read.
EVERYONE = Principal(is_admin=True, max_level=READ)


@dataclass(frozen=True, slots=True)
class Caller:
    """A logged-in user (robots have no business with accounts) and where the request came from."""
    principal: Principal
    address: str

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def user_id(self) -> int:
        assert self.principal.user_id is not None  # authenticate() admits users only
        return self.principal.user_id

    def record(self, session: AsyncSession, action: str, target: str, **detail: Any) -> None:
        """Audit a change in the transaction that makes it."""
        audit.record(session, self.name, action, target, self.address, **detail)


def database(request: web.Request) -> Database:
    return request.config_dict[keys.database]


def unauthorized(message: str = "authentication required") -> errors.Unauthorized:
    return errors.Unauthorized(message, headers={"WWW-Authenticate": f'Basic realm="{REALM}"'})


def has_accounts(request: web.Request) -> bool:
    return keys.gatekeeper in request.config_dict  # the Gatekeeper runs with --auth token only


async def authenticate(request: web.Request, level: int | None = None) -> Caller:
    """The calling user, allowed by its token's scope to use this request's method (or to act at `level`,
    for requests whose method says too much: unstarring is a DELETE); else 401 or 403."""
    if not has_accounts(request):
        raise errors.Forbidden(NO_ACCOUNTS)
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            principal = await request.config_dict[keys.gatekeeper].login(request, *parse_basic(credentials))
        except errors.Unauthorized as exc:
            raise unauthorized(exc.message) from None
    elif scheme.lower() == "bearer":
        async with database(request).read() as session:
            found = await authenticate_personal_token(session, credentials.strip())
        if found is None:
            raise unauthorized("invalid, expired or revoked personal access token")
        principal = found
    else:
        raise unauthorized()
    if principal.user_id is None:
        raise errors.Forbidden("robot accounts cannot use this API")
    if principal.max_level < (METHOD_LEVELS.get(request.method, ADMIN) if level is None else level):
        raise errors.Forbidden(f"a {SCOPE_NAMES[principal.max_level]} access token cannot {request.method} here")
    return Caller(principal, request.remote or "")


async def identify(request: web.Request) -> Caller | None:
    """The caller when the request carries credentials (checked as `authenticate` checks them); None when
    it comes without, or the registry runs without accounts (which ignores credentials)."""
    if not has_accounts(request) or "Authorization" not in request.headers:
        return None
    return await authenticate(request)


def reader(request: web.Request, caller: Caller | None) -> Principal:
    """Whom reads are checked for: the caller; else anonymous (public repositories only); else, without
    accounts, everyone."""
    if caller is not None:
        return caller.principal
    return ANONYMOUS if has_accounts(request) else EVERYONE


def require_admin(caller: Caller, why: str = "only site administrators may do this") -> Caller:
    if not caller.is_admin:
        raise errors.Forbidden(why)
    return caller


def require_self_or_admin(caller: Caller, user: str) -> str:
    """`user`, when it is the caller or the caller administers the site; others' accounts stay unseen."""
    if user != caller.name and not caller.is_admin:
        raise errors.NotFound(f"no user {user!r}")
    return user


def require_full_login(caller: Caller) -> Caller:
    """A password login or a read-write-delete token: so that a weaker token cannot mint a stronger one."""
    if caller.principal.max_level < ADMIN:
        raise errors.Forbidden("creating access tokens needs a password or a read-write-delete token")
    return caller


async def require_organization(session: AsyncSession, caller: Caller, organization: str,
                               role: str = accounts.OWNER) -> None:
    """Pass members (role MEMBER) or owners (role OWNER) of the organization, and site administrators."""
    if caller.is_admin:
        return
    found = await accounts.organization_role(session, organization, caller.user_id)
    if found is None:
        raise errors.NotFound(f"no organization {organization!r}")
    if role == accounts.OWNER and found != accounts.OWNER:
        raise errors.Forbidden(f"only the owners of {organization!r} may manage it")


async def require_namespace_owner(session: AsyncSession, caller: Caller, namespace: str) -> None:
    """Pass the user a namespace is named after, its organization's owners, and site administrators."""
    if caller.is_admin or namespace == caller.name:
        return
    role = await accounts.organization_role(session, namespace, caller.user_id)  # None: a user's, or a stranger
    if role is None:
        raise errors.NotFound(f"no user or organization {namespace!r}")
    if role != accounts.OWNER:
        raise errors.Forbidden(f"only the owners of {namespace!r} may manage it")


async def require_readable(session: Reader, principal: Principal, repository: str) -> None:
    """Pass readers of the repository; to others it is missing."""
    if await repository_level(session, principal, repository) < READ:
        raise errors.NotFound(f"no repository {repository!r}")


async def require_repository_admin(session: AsyncSession, caller: Caller, repository: str) -> None:
    """Pass callers whose level on the repository (capped by their token's scope) is admin."""
    level = await repository_level(session, caller.principal, repository)
    if level < READ:
        raise errors.NotFound(f"no repository {repository!r}")
    if level < ADMIN:
        raise errors.Forbidden(f"changing {repository!r} needs admin on it; you have {LEVEL_NAMES[level]}")
