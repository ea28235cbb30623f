"""Stars: one per user and repository, for any logged-in user who can read it; starring twice is one star."""

from __future__ import annotations

from .conftest import ALICE, BOBBY, error_code
from .test_repositories import repositories


async def test_stars_toggle_and_count_once_per_user(api, admin_session):
    await repositories(admin_session, "alice/app", "alice/other")
    assert (await api("POST", "/repositories/alice/app/star", BOBBY)).body == {"star_count": 1, "has_starred": True}
    assert (await api("POST", "/repositories/alice/app/star", BOBBY)).body == {"star_count": 1, "has_starred": True}
    assert (await api("POST", "/repositories/alice/app/star", ALICE)).body == {"star_count": 2, "has_starred": True}
    seen_by_bobby = (await api("GET", "/repositories/alice/app", BOBBY)).body
    assert (seen_by_bobby["star_count"], seen_by_bobby["has_starred"]) == (2, True)
    assert (await api("GET", "/repositories/alice/app")).body["has_starred"] is False  # anonymous
    assert (await api("GET", "/repositories/alice/other", BOBBY)).body["has_starred"] is False
    assert [r["repository"] for r in (await api("GET", "/repositories/alice?ordering=stars")).body["results"]] == \
        ["alice/app", "alice/other"]
    unstarred = await api("DELETE", "/repositories/alice/app/star", BOBBY)
    assert unstarred.status == 200 and unstarred.body == {"star_count": 1, "has_starred": False}
    assert (await api("DELETE", "/repositories/alice/app/star", BOBBY)).body == {"star_count": 1, "has_starred": False}
    assert (await api("GET", "/repositories/alice/app", BOBBY)).body["has_starred"] is False
    assert (await api("DELETE", "/repositories/alice/other/star", BOBBY)).body["star_count"] == 0  # never starred


async def test_stars_need_a_login_and_a_repository_one_can_read(api, admin_session):
    await repositories(admin_session, "alice/app", "alice/secret")
    await api("PATCH", "/repositories/alice/secret", ALICE, {"visibility": "private"})
    anonymous = await api("POST", "/repositories/alice/app/star")
    assert anonymous.status == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
    for path in ("/repositories/alice/secret/star", "/repositories/alice/nope/star", "/repositories/Alice/x/star"):
        assert (await api("POST", path, BOBBY)).status == 404, path
    assert (await api("POST", "/repositories/alice/secret/star", ALICE)).body["star_count"] == 1
    assert (await api("GET", "/repositories/alice/secret", ALICE)).body["star_count"] == 1


async def test_a_token_needs_read_write_to_star_and_to_take_it_back(api, admin_session):
    await repositories(admin_session, "bobby/app")
    read_only = (await api("POST", "/users/alice/tokens", ALICE, {"scope": "read"})).body["token"]
    read_write = (await api("POST", "/users/alice/tokens", ALICE, {"scope": "read-write"})).body["token"]
    refused = await api("POST", "/repositories/bobby/app/star", read_only)
    assert refused.status == 403 and error_code(refused) == "FORBIDDEN"
    assert (await api("DELETE", "/repositories/bobby/app/star", read_only)).status == 403
    assert (await api("POST", "/repositories/bobby/app/star", read_write)).body["has_starred"] is True
    # A DELETE takes a read-write-delete token elsewhere; a star is the caller's own mark.
    assert (await api("DELETE", "/repositories/bobby/app/star", read_write)).body["has_starred"] is False


async def test_members_star_their_organization_s_private_repositories(api, admin_session):
    await api("POST", "/orgs", ALICE, {"name": "acme"})
    await repositories(admin_session, "acme/app")
    await api("PATCH", "/repositories/acme/app", ALICE, {"visibility": "private"})
    assert (await api("POST", "/repositories/acme/app/star", BOBBY)).status == 404
    await api("POST", "/orgs/acme/teams", ALICE, {"name": "devs", "permission": "read"})
    await api("PUT", "/orgs/acme/teams/devs/members/bobby", ALICE)
    assert (await api("POST", "/repositories/acme/app/star", BOBBY)).body == {"star_count": 1, "has_starred": True}
    robot = (await api("POST", "/orgs/acme/robots", ALICE, {"name": "ci"})).body
    assert (await api("POST", "/repositories/acme/app/star", (robot["username"], robot["secret"]))).status == 403
