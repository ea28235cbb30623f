"""Signing in and out of the pages with a password.

A sign-in is a login like any other: it goes through the Gatekeeper, so it is rate-limited per account and
per address with the very counters docker's Basic logins use, and audited. Access tokens and robot secrets
are refused here: they are for clients, and a read-only token must not become a full session.
"""

from __future__ import annotations

import re

from aiohttp import web

from .. import errors, keys
from ..services.credentials import password_matches
from ..services.web_sessions import end_session, start_session
from .browse import database
from .render import render
from .visitor import SESSION_COOKIE, clear_session_cookie, set_session_cookie, visitor

MAX_USERNAME, MAX_PASSWORD = 100, 1024
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")


def routes() -> list[web.RouteDef]:
    return [web.get("/signin", signin_form, name="web.signin"), web.post("/signin", sign_in, name="web.sign_in"),
            web.post("/signout", sign_out, name="web.signout")]


def safe_next(value: object) -> str:
    """Where to go after signing in: a path of this site only (never `//elsewhere` or a full URL)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") \
            or _UNSAFE.search(value) or len(value) > 2000 or value.startswith(("/signin", "/signout")):
        return "/"
    return value


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def signin_form(request: web.Request) -> web.Response:
    next_path = safe_next(request.query.get("next"))
    if (await visitor(request)).signed_in is not None:
        return see_other(next_path)
    return await render(request, "signin.html", next_path=next_path, username="", error="")


async def sign_in(request: web.Request) -> web.Response:
    form = await request.post()
    username = str(form.get("username", "")).strip()[:MAX_USERNAME]
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    next_path = safe_next(form.get("next"))

    async def refuse(status: int, error: str, headers: dict[str, str] | None = None) -> web.Response:
        response = await render(request, "signin.html", status=status, next_path=next_path, username=username,
                                error=error)
        response.headers.update(headers or {})
        return response

    if not username or not password:
        return await refuse(400, "Enter your username and your password.")
    try:
        principal = await request.config_dict[keys.gatekeeper].login(request, username, password)
    except errors.TooManyRequests as exc:
        wait = exc.headers.get("Retry-After", "60")
        return await refuse(429, f"Too many attempts, try again in {wait} s.", {"Retry-After": wait})
    except errors.Unauthorized:
        return await refuse(401, "Incorrect username or password.")
    user_id = principal.user_id
    async with database(request).read() as session:
        is_password = user_id is not None and await password_matches(session, user_id, password)
    if user_id is None or not is_password:
        return await refuse(401, "Sign in with your password: access tokens and robot accounts are for "
                                 "docker login and the API.")
    async with database(request).write() as session:
        secret = await start_session(session, user_id)
    response = see_other(next_path)
    set_session_cookie(request, response, secret)
    return response


async def sign_out(request: web.Request) -> web.Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        async with database(request).write() as session:
            await end_session(session, secret)
    response = see_other("/")
    clear_session_cookie(request, response)
    return response
