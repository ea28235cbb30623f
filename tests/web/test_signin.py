"""Signing in and out: the session cookie's flags, sessions stored hashed and ending, and the login limits
that docker's logins have."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from registry import keys
from registry.app import create_app
from registry.db.hub import WebSession
from registry.services import credentials
from registry.services.logins import LoginLimits

from ..auth.conftest import basic
from .conftest import ALICE, BOBBY, Browser, Page


def set_cookie_line(page: Page, name: str) -> str:
    lines = [v for v in page.headers.getall("Set-Cookie", []) if v.startswith(name + "=")]
    assert len(lines) == 1, page.headers.getall("Set-Cookie", [])
    return lines[0]


async def sessions(admin_session) -> list[WebSession]:
    async def rows(session):
        return list(await session.scalars(select(WebSession)))
    return await admin_session(rows)


@pytest.mark.usefixtures("world")
async def test_signing_in_sets_a_strict_session_cookie_stored_hashed(browsers, admin_session):
    browser = await browsers()
    form = await browser.open("/signin?next=/r/alice/app")
    assert form.status == 200 and '<label for="username">Username</label>' in form.text
    assert 'name="next" value="/r/alice/app"' in form.text
    anonymous = set_cookie_line(form, "berth_csrf")  # the sign-in form's own CSRF token (login CSRF)
    assert "HttpOnly" in anonymous and "SameSite=Lax" in anonymous
    page = await browser.submit("/signin", {"username": "alice", "password": ALICE[1], "next": "/r/alice/app"})
    assert page.status == 303 and page.location == "/r/alice/app"
    cookie = set_cookie_line(page, "berth_session")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    secret = browser.cookie("berth_session")
    assert secret and len(secret) >= 40
    (row,) = await sessions(admin_session)
    assert row.id_hash == hashlib.sha256(secret.encode()).hexdigest() and secret not in row.id_hash
    assert timedelta(hours=11) < row.expires_at - row.created_at <= timedelta(hours=12)
    home = await browser.open("/")
    assert 'aria-label="Account menu of alice"' in home.text and home.csrf == row.csrf_token


async def secure_cookie(browser: Browser, headers: dict[str, str]) -> str:
    await browser.open("/signin", headers=headers)
    page = await browser.submit("/signin", {"username": "alice", "password": ALICE[1]}, headers=headers)
    assert page.status == 303
    return set_cookie_line(page, "berth_session")


@pytest.mark.usefixtures("world")
async def test_the_cookie_is_secure_behind_an_https_proxy(browsers):
    assert "Secure" in await secure_cookie(await browsers(), {"X-Forwarded-Proto": "https"})


@pytest.mark.usefixtures("world")
async def test_the_cookie_is_secure_when_public_url_is_https(token_settings, aiohttp_client):
    # A second app on the same database, as another worker configured with an https public_url would be.
    client = await aiohttp_client(create_app(dataclasses.replace(token_settings, public_url="https://hub.example")))
    browser = Browser(client)
    try:
        assert "Secure" in await secure_cookie(browser, {})
    finally:
        await browser.close()


@pytest.mark.usefixtures("world")
async def test_signing_out_ends_the_session(browsers, admin_session):
    browser = await browsers()
    await browser.sign_in(ALICE)
    secret = browser.cookie("berth_session")
    page = await browser.submit("/signout")
    assert page.status == 303 and page.location == "/"
    assert 'berth_session=""' in set_cookie_line(page, "berth_session")  # the browser forgets it
    assert await sessions(admin_session) == []
    # Even a copy of the old cookie is worth nothing now.
    thief = await browsers()
    thief.session.cookie_jar.update_cookies({"berth_session": secret})
    assert "Sign in</a>" in (await thief.open("/")).text
    assert (await thief.open("/account/tokens")).status == 303


@pytest.mark.usefixtures("world")
async def test_an_expired_session_is_no_session(browsers, admin_session):
    browser = await browsers()
    await browser.sign_in(ALICE)

    async def expire(session):
        from registry.db.base import utcnow
        await session.execute(update(WebSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    await admin_session(expire)
    page = await browser.open("/account/tokens")
    assert page.status == 303 and page.location.startswith("/signin?next=")


@pytest.mark.usefixtures("world")
async def test_wrong_passwords_and_access_tokens_do_not_sign_in(browsers, admin_session):
    async def token(session):
        from registry.services.accounts import get_user
        return (await credentials.issue_token(session, (await get_user(session, "alice")).id,
                                              "read-write-delete")).secret
    secret = await admin_session(token)
    browser = await browsers()
    await browser.open("/signin")
    wrong = await browser.submit("/signin", {"username": "alice", "password": "not-her-password"})
    assert wrong.status == 401 and "Incorrect username or password." in wrong.text
    assert 'value="alice"' in wrong.text and "not-her-password" not in wrong.text
    with_token = await browser.submit("/signin", {"username": "alice", "password": secret})
    assert with_token.status == 401 and "Sign in with your password" in with_token.text
    empty = await browser.submit("/signin", {"username": "", "password": ""})
    assert empty.status == 400
    assert browser.cookie("berth_session") is None and await sessions(admin_session) == []


@pytest.mark.usefixtures("world")
async def test_failed_sign_ins_share_the_login_limits_of_docker_logins(browsers, registry):
    registry.app[keys.gatekeeper].login_limits = LoginLimits(per_account=4, per_address=100)
    browser = await browsers()
    await browser.open("/signin")
    for _ in range(2):  # two wrong guesses on the pages ...
        page = await browser.submit("/signin", {"username": "bobby", "password": "guess"})
        assert page.status == 401
    for _ in range(2):  # ... and two with docker's Basic login on /token count together
        assert (await registry.get("/token", params={"service": "berth"}, headers=basic("bobby", "x"))).status == 401
    page = await browser.submit("/signin", {"username": "bobby", "password": BOBBY[1]})
    assert page.status == 429, page.text
    wait = int(page.headers["Retry-After"])
    assert 0 < wait <= 300 and f"Too many attempts, try again in {wait} s." in page.text
    assert browser.cookie("berth_session") is None
    # The pages' guesses lock docker out as well.
    assert (await registry.get("/token", params={"service": "berth"}, headers=basic(*BOBBY))).status == 429
    # Other accounts are not affected.
    assert (await browser.submit("/signin", {"username": "alice", "password": ALICE[1]})).status == 303


@pytest.mark.usefixtures("world")
@pytest.mark.parametrize("next_path,goes_to", [("/r/alice/app?tag=v1", "/r/alice/app?tag=v1"),
                                               ("//evil.example/", "/"), ("https://evil.example/", "/"),
                                               ("/\\evil.example", "/"), ("/signout", "/")])
async def test_after_signing_in_only_pages_of_this_site_are_next(browsers, next_path, goes_to):
    browser = await browsers()
    await browser.open("/signin")
    page = await browser.submit("/signin", {"username": "alice", "password": ALICE[1], "next": next_path})
    assert page.status == 303 and page.location == goes_to


@pytest.mark.usefixtures("world")
async def test_the_sign_in_page_sends_the_signed_in_onwards(browsers):
    browser = await browsers()
    await browser.sign_in(ALICE)
    page = await browser.open("/signin?next=/u/alice")
    assert page.status == 303 and page.location == "/u/alice"
