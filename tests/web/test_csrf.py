"""Every form post needs the visitor's CSRF token: without it, or with anyone else's, the answer is the 403
page and nothing changes. The routes are read from the application, so a new form cannot be forgotten."""

from __future__ import annotations

import re

import pytest

from registry.services import accounts, hub
from registry.services.credentials import personal_tokens

from .conftest import ALICE, BOBBY

PARTS = {"namespace": "alice", "name": "app", "id": "1", "org": "acme", "team": "devs", "user": "bobby"}


def form_paths(registry) -> list[str]:
    """A concrete path for each POST route of the pages."""
    paths = []
    for route in registry.app.router.routes():
        resource = route.resource
        if route.method != "POST" or resource is None or not (resource.name or "").startswith("web."):
            continue
        parts = {**PARTS, "name": "busybox"} if resource.canonical.startswith("/_/") else PARTS
        paths.append(re.sub(r"\{(\w+)\}", lambda m, parts=parts: parts[m.group(1)], resource.canonical))
    return paths


def test_every_form_of_the_pages_is_covered(registry):
    paths = form_paths(registry)
    for expected in ("/signin", "/signout", "/r/alice/app/star", "/account/tokens", "/account/tokens/1/revoke",
                     "/r/alice/app/settings/descriptions", "/r/alice/app/settings/visibility",
                     "/r/alice/app/settings/webhooks", "/r/alice/app/settings/webhooks/1/delete",
                     "/_/busybox/settings/visibility", "/orgs/acme/teams", "/orgs/acme/teams/devs/members",
                     "/orgs/acme/teams/devs/members/bobby/remove", "/orgs/acme/teams/devs/permissions"):
        assert expected in paths
    assert len(paths) == len(set(paths)) == 18  # and the official spellings (/_/NAME/...) of each


FIELDS = {"username": "alice", "password": ALICE[1], "starred": "true", "scope": "read", "expires": "30",
          "label": "forged", "short_description": "forged", "full_description": "forged",
          "visibility": "private", "name": "forged", "url": "http://127.0.0.1:9/hook", "permission": "admin",
          "user": "carol", "repository": ""}


@pytest.mark.parametrize("token", ["none", "wrong", "another session's"])
async def test_posts_without_the_visitors_token_are_refused(browsers, registry, world, admin_session, token):
    alice = await browsers()
    await alice.sign_in(ALICE)
    other = await browsers()
    await other.sign_in(BOBBY)
    assert alice.csrf and other.csrf and alice.csrf != other.csrf
    sent = {"none": None, "wrong": "x" * 43, "another session's": other.csrf}[token]
    for path in form_paths(registry):
        page = await alice.submit(path, FIELDS, csrf=sent)
        assert page.status == 403, path
        assert "Form expired" in page.text and page.headers["Content-Type"].startswith("text/html")

    async def state(session):
        alice_id = (await accounts.get_user(session, "alice")).id
        app = await hub.repository(session, "alice/app")
        teams = (await accounts.describe_organization(session, "acme")).teams
        return app, await personal_tokens(session, alice_id), teams, await hub.is_starred(session, alice_id,
                                                                                           "alice/app")
    app, tokens, teams, starred = await admin_session(state)
    assert app is not None and app.short_description == "Alice's app" and not app.is_private
    assert tokens == [] and not starred and [t.name for t in teams] == ["devs", "owners"]
    assert 'aria-label="Account menu of alice"' in (await alice.open("/")).text  # not signed out either


async def test_an_anonymous_form_needs_the_token_of_its_cookie(browsers, world):
    browser = await browsers()
    page = await browser.submit("/signin", {"username": "alice", "password": ALICE[1]}, csrf=None)
    assert page.status == 403  # no cookie and no token: a login forged by another site
    form = await browser.open("/signin")
    cookie = browser.cookie("berth_csrf")
    assert cookie and form.csrf == cookie
    assert (await browser.submit("/signin", {"username": "alice", "password": ALICE[1]},
                                 csrf=cookie[::-1])).status == 403
    assert (await browser.submit("/signin", {"username": "alice", "password": ALICE[1]})).status == 303
