"""Who is looking at a page: the session cookie, the CSRF token of every form, and what they may read.

A signed-in browser carries `berth_session` (HttpOnly, SameSite=Lax, Secure over HTTPS); its forms carry
the session's CSRF token. A visitor who is not signed in gets the token from a `berth_csrf` cookie (the
sign-in form needs one too: login CSRF) and must send it back in the form: a page of another site can
neither read that cookie nor set it. With --auth none there are no accounts: everyone reads everything
and nothing is ever posted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import ColumnElement, true
from sqlalchemy.ext.asyncio import AsyncSession

from .. import keys
from ..services.access import ANONYMOUS, READ, Principal, readable_condition
from ..services.web_sessions import SESSION_TTL, SignedIn, find_session, new_csrf_token, same_token

SESSION_COOKIE = "berth_session"
CSRF_COOKIE = "berth_csrf"
CSRF_FIELD = "csrf_token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")
VISITOR = web.RequestKey("berth_visitor", object)


@dataclass(frozen=True, slots=True)
class Visitor:
    principal: Principal
    signed_in: SignedIn | None
    csrf_token: str  # "" with --auth none
    open_registry: bool = False  # --auth none
    csrf_cookie_missing: bool = False  # an anonymous visitor's token is new: set the cookie

    @property
    def name(self) -> str:
        return self.signed_in.name if self.signed_in else ""


async def visitor(request: web.Request) -> Visitor:
    """The visitor of this request (looked up once per request)."""
    found = request.get(VISITOR)
    if found is None:
        found = request[VISITOR] = await _visitor(request)
    return found  # type: ignore[return-value]


async def _visitor(request: web.Request) -> Visitor:
    if request.config_dict[keys.settings].auth == "none":
        return Visitor(ANONYMOUS, None, "", open_registry=True)
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        async with request.config_dict[keys.database].read() as session:
            signed_in = await find_session(session, secret)
        if signed_in is not None:
            return Visitor(signed_in.principal, signed_in, signed_in.csrf_token)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if _TOKEN.fullmatch(cookie):
        return Visitor(ANONYMOUS, None, cookie)
    return Visitor(ANONYMOUS, None, new_csrf_token(), csrf_cookie_missing=True)


async def require_signed_in(request: web.Request) -> SignedIn:
    """The signed-in user; anyone else is sent to sign in and brought back here afterwards."""
    who = await visitor(request)
    if who.signed_in is None:
        raise web.HTTPSeeOther("/signin?" + urlencode({"next": request.path_qs}))
    return who.signed_in


async def check_csrf(request: web.Request) -> bool:
    """Whether a form post carries the visitor's CSRF token."""
    who = await visitor(request)
    if who.open_registry or who.csrf_cookie_missing:
        return False
    form = await request.post()
    given = form.get(CSRF_FIELD)
    return isinstance(given, str) and same_token(given, who.csrf_token)


def is_https(request: web.Request) -> bool:
    """Whether the browser talks HTTPS to us (directly, behind a proxy that says so, or by public_url)."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.secure or forwarded == "https" \
        or request.config_dict[keys.settings].public_url.startswith("https://")


def _cookie_flags(request: web.Request) -> dict[str, object]:
    return {"path": "/", "httponly": True, "samesite": "Lax", "secure": is_https(request)}


def with_csrf_cookie(request: web.Request, who: Visitor, response: web.Response) -> web.Response:
    if who.csrf_cookie_missing:
        response.set_cookie(CSRF_COOKIE, who.csrf_token, **_cookie_flags(request))  # type: ignore[arg-type]
    return response


def set_session_cookie(request: web.Request, response: web.StreamResponse, secret: str) -> None:
    response.set_cookie(SESSION_COOKIE, secret, max_age=int(SESSION_TTL.total_seconds()),
                        **_cookie_flags(request))  # type: ignore[arg-type]


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/", secure=is_https(request), httponly=True, samesite="Lax")


async def readable(session: AsyncSession, who: Visitor) -> ColumnElement[bool]:
    """The SQL condition of the repositories the visitor may read (all of them with --auth none)."""
    return true() if who.open_registry else await readable_condition(session, who.principal)


async def level(request: web.Request, who: Visitor, repository: str) -> int:
    """The visitor's level on an existing repository: READ for everyone with --auth none (nobody
    administers an open registry through its pages), else what the registry's access checks say."""
    if who.open_registry:
        return READ
    return await request.config_dict[keys.gatekeeper].level(who.principal, repository)
