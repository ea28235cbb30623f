"""Access tokens on `/account/tokens`: made with a scope, a description and an expiry, shown once, usable at
once by docker's login, and revoked for good."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from registry.db.base import utcnow

from ..auth.conftest import basic
from .conftest import ALICE, BOBBY

pytestmark = pytest.mark.usefixtures("world")


async def docker_login(registry, username: str, secret: str) -> int:
    """The status of docker's login with `secret` as the password (GET /token with Basic credentials)."""
    return (await registry.get("/token", params={"service": "berth"}, headers=basic(username, secret))).status


async def test_a_token_is_shown_once_works_and_is_revoked(browsers, registry):
    browser = await browsers()
    await browser.sign_in(ALICE)
    empty = await browser.open("/account/tokens")
    assert empty.status == 200 and "You have no access tokens." in empty.text
    made = await browser.submit("/account/tokens", {"label": "ci pipeline", "scope": "read", "expires": "30"})
    assert made.status == 201 and made.headers["Cache-Control"] == "no-store"
    token = made.copyable("new-token")
    assert token is not None and token.startswith("bpat_")
    assert "Copy your new token now" in made.text
    row = re.search(r"<tr>\s*<th scope=\"row\">ci pipeline</th>\s*<td>read</td>(.*?)</tr>", made.text, re.S)
    assert row is not None
    expires = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%d")
    assert expires in row.group(1)
    assert await docker_login(registry, "alice", token) == 200
    listed = await browser.open("/account/tokens")
    assert token not in listed.text and "ci pipeline" in listed.text  # never shown again
    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', listed.text).group(1)
    revoked = await browser.submit(f"/account/tokens/{token_id}/revoke")
    assert revoked.status == 303 and revoked.location == "/account/tokens?revoked=1"
    after = await browser.open(revoked.location)
    assert "The token was revoked." in after.text and "ci pipeline" not in after.text
    assert await docker_login(registry, "alice", token) == 401


async def test_tokens_never_expire_when_asked_and_refuse_bad_forms(browsers):
    browser = await browsers()
    await browser.sign_in(ALICE)
    made = await browser.submit("/account/tokens", {"label": "", "scope": "read-write-delete", "expires": "never"})
    assert made.status == 201 and "(no description)" in made.text
    assert re.search(r"<td>read-write-delete</td>(?:(?!</tr>).)*<td>never</td>", made.text, re.S)
    for fields in ({"scope": "everything", "expires": "30"}, {"scope": "read", "expires": "9999"},
                   {"scope": "read", "expires": "30", "label": "two\nlines"}):
        page = await browser.submit("/account/tokens", fields)
        assert page.status == 400 and 'class="alert alert-error"' in page.text, fields
        assert "bpat_" not in page.text


async def test_nobody_revokes_anothers_token(browsers, registry):
    alice = await browsers()
    await alice.sign_in(ALICE)
    made = await alice.submit("/account/tokens", {"label": "mine", "scope": "read", "expires": "30"})
    token = made.copyable("new-token")
    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', made.text).group(1)
    bobby = await browsers()
    await bobby.sign_in(BOBBY)
    page = await bobby.submit(f"/account/tokens/{token_id}/revoke")
    assert page.status == 404
    assert await docker_login(registry, "alice", token) == 200


async def test_the_tokens_page_sends_strangers_to_sign_in(browsers):
    page = await (await browsers()).open("/account/tokens")
    assert page.status == 303
    location = urlsplit(page.location)
    assert location.path == "/signin" and parse_qs(location.query) == {"next": ["/account/tokens"]}
