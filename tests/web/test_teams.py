"""An organization's teams page, for its owners: teams, members and permissions, with the JSON API's rules."""

from __future__ import annotations

import re

import pytest

from .conftest import ADMIN, ALICE, BOBBY, CAROL

pytestmark = pytest.mark.usefixtures("world")


async def person(browsers, credentials):
    browser = await browsers()
    await browser.sign_in(credentials)
    return browser


def team_section(text: str, team: str) -> str:
    found = re.search(rf'<h2 id="team-\d+">{team}\b(.*?)</section>', text, re.S)
    assert found is not None, team
    return found.group(1)


async def test_an_owner_builds_a_team_and_its_members_see_private_repositories(browsers):
    alice, carol = await person(browsers, ALICE), await person(browsers, CAROL)
    page = await alice.open("/orgs/acme/teams")
    assert page.status == 200 and "<h1>Teams of acme</h1>" in page.text
    assert "bobby" in team_section(page.text, "devs") and "alice" in team_section(page.text, "owners")
    assert 'href="/orgs/acme/teams"' in (await alice.open("/orgs/acme")).text  # "Manage teams"

    created = await alice.submit("/orgs/acme/teams", {"name": "ops", "permission": ""})
    assert created.status == 303 and created.location == "/orgs/acme/teams?done=created"
    assert (await carol.open("/r/acme/internal")).status == 404
    added = await alice.submit("/orgs/acme/teams/ops/members", {"user": "carol"})
    assert added.status == 303
    assert (await carol.open("/r/acme/internal")).status == 404  # a member of a team without access
    granted = await alice.submit("/orgs/acme/teams/ops/permissions", {"permission": "read",
                                                                       "repository": "internal"})
    assert granted.status == 303
    page = await alice.open(granted.location)
    assert "The permission was set." in page.text
    ops = team_section(page.text, "ops")
    assert "carol" in ops and "acme/internal <strong>read</strong>" in ops
    assert (await carol.open("/r/acme/internal")).status == 200
    assert 'href="/r/acme/internal"' in (await carol.open("/orgs/acme")).text

    removed = await alice.submit("/orgs/acme/teams/ops/members/carol/remove")
    assert removed.status == 303
    assert (await carol.open("/r/acme/internal")).status == 404


async def test_mistakes_are_explained_on_the_page(browsers):
    alice = await person(browsers, ALICE)
    for path, fields, message in (
            ("/orgs/acme/teams", {"name": "devs"}, "Team &#39;devs&#39; already exists in &#39;acme&#39;."),
            ("/orgs/acme/teams", {"name": "Bad Name!"}, "Invalid team name"),
            ("/orgs/acme/teams/devs/members", {"user": "nobody"}, "No user &#39;nobody&#39;."),
            ("/orgs/acme/teams/devs/permissions", {"permission": "root"}, "Unknown permission"),
            ("/orgs/acme/teams/devs/permissions", {"permission": "read", "repository": "alice/app"},
             "is not a repository of"),
            ("/orgs/acme/teams/owners/members/alice/remove", {}, "Alice is the last owner of acme.")):
        page = await alice.submit(path, fields)
        assert page.status in (400, 404), (path, page.status)
        assert 'class="alert alert-error"' in page.text and message in page.text, (path, message)


async def test_members_get_403_and_strangers_404(browsers):
    bobby, carol = await person(browsers, BOBBY), await person(browsers, CAROL)
    member = await bobby.open("/orgs/acme/teams")
    assert member.status == 403 and "Only the owners of acme manage its teams." in member.text
    assert (await bobby.submit("/orgs/acme/teams", {"name": "mine"})).status == 403
    assert "Manage teams" not in (await bobby.open("/orgs/acme")).text
    stranger = await carol.open("/orgs/acme/teams")
    missing = await carol.open("/orgs/zzzorg/teams")
    assert stranger.status == missing.status == 404
    assert stranger.text == missing.text.replace("zzzorg", "acme")
    assert (await carol.submit("/orgs/acme/teams/devs/members", {"user": "carol"})).status == 404


async def test_site_administrators_manage_any_organization(browsers):
    admin = await person(browsers, ADMIN)
    assert (await admin.open("/orgs/acme/teams")).status == 200
    assert (await admin.open("/orgs/alice/teams")).status == 404  # a user, not an organization
