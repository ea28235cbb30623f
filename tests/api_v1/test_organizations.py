"""Organizations, teams and robots through the JSON API, as an owner, a member and a stranger see them."""

from registry.services import accounts

from ..auth.conftest import token_for
from .conftest import ADMIN, ALICE, BOBBY, error_code

ORG = "/orgs/acme"


async def make_acme(api) -> None:
    """acme, owned by alice; bobby in its `devs` team with write on the whole organization."""
    created = await api("POST", "/orgs", ALICE, {"name": "acme"})
    assert created.status == 201 and created.body == {"name": "acme", "owner": "alice"}
    assert created.headers["Location"] == "/api/v1/orgs/acme"
    assert (await api("POST", ORG + "/teams", ALICE, {"name": "devs", "permission": "write"})).status == 201
    assert (await api("PUT", ORG + "/teams/devs/members/bobby", ALICE)).status == 204


async def test_an_owner_builds_an_organization(api, audit_log):
    await make_acme(api)
    grant = {"repository": "acme/app", "permission": "admin"}
    granted = await api("PUT", ORG + "/teams/devs/permissions", ALICE, grant)
    assert granted.status == 200 and granted.body == {"team": "devs", "repository": "acme/app", "permission": "admin"}
    robot = await api("POST", ORG + "/robots", ALICE, {"name": "ci"})
    assert robot.status == 201 and robot.body["username"] == "acme+ci" and robot.body["secret"].startswith("brobot_")
    assert (await api("PUT", ORG + "/robots/ci/permissions", ALICE,
                      {"repository": "acme/app", "permission": "write"})).status == 200
    described = await api("GET", ORG, BOBBY)  # any member may look
    assert described.status == 200
    assert described.body == {"name": "acme", "teams": [
        {"name": "devs", "permission": "write", "members": ["bobby"], "repositories": {"acme/app": "admin"}},
        {"name": "owners", "permission": "admin", "members": ["alice"], "repositories": {}}],
        "robots": [{"name": "ci", "username": "acme+ci", "repositories": {"acme/app": "write"}}]}
    actions = [(e["actor"], e["action"], e["target"]) for e in await audit_log()]
    for expected in [("alice", "organization_created", "acme"), ("alice", "team_created", "acme/devs"),
                     ("alice", "team_member_added", "acme/devs"), ("alice", "permission_changed", "acme/app"),
                     ("alice", "robot_created", "acme+ci")]:
        assert expected in actions


async def test_the_robot_pushes_what_it_was_granted(api, registry):
    await make_acme(api)
    secret = (await api("POST", ORG + "/robots", ALICE, {"name": "ci"})).body["secret"]
    await api("PUT", ORG + "/robots/ci/permissions", ALICE, {"repository": "acme/app", "permission": "write"})
    answer = await token_for(registry, "repository:acme/app:pull,push", credentials=("acme+ci", secret))
    assert answer["token"]
    robot = await api("GET", "/user", ("acme+ci", secret))
    assert robot.status == 403 and "robot" in robot.body["errors"][0]["message"]


async def test_members_look_but_only_owners_manage(api):
    await make_acme(api)
    for method, path, body in [("POST", ORG + "/teams", {"name": "ops"}),
                               ("PUT", ORG + "/teams/devs/members/bobby", None),
                               ("PUT", ORG + "/teams/devs/permissions", {"permission": "admin"}),
                               ("POST", ORG + "/robots", {"name": "ci"})]:
        refused = await api(method, path, BOBBY, body)
        assert refused.status == 403 and error_code(refused) == "FORBIDDEN", path


async def test_strangers_cannot_tell_an_organization_from_a_missing_one(api, admin_session):
    await make_acme(api)
    mallory = ("mallory", "mallory-password")
    await admin_session(lambda s: accounts.create_user(s, *mallory))
    for method, path, body in [("GET", "", None), ("POST", "/teams", {"name": "evil"}),
                               ("POST", "/robots", {"name": "evil"}), ("PUT", "/teams/devs/members/mallory", None)]:
        seen = await api(method, ORG + path, mallory, body)
        missing = await api(method, "/orgs/nope" + path, mallory, body)
        assert seen.status == missing.status == 404, path
        assert seen.body["errors"][0]["message"].replace("acme", "X") == \
            missing.body["errors"][0]["message"].replace("nope", "X")
    assert (await api("GET", ORG, ADMIN)).status == 200  # site administrators see everything


async def test_organization_names_and_owners(api):
    assert (await api("POST", "/orgs", ALICE, {"name": "bobby"})).status == 409  # users and orgs share names
    assert (await api("POST", "/orgs", ALICE, {"name": "x"})).status == 400
    refused = await api("POST", "/orgs", ALICE, {"name": "bobbyorg", "owner": "bobby"})
    assert refused.status == 403
    by_admin = await api("POST", "/orgs", ADMIN, {"name": "bobbyorg", "owner": "bobby"})
    assert by_admin.status == 201 and by_admin.body["owner"] == "bobby"
    assert (await api("GET", "/orgs/bobbyorg", BOBBY)).status == 200
    assert (await api("POST", "/orgs", ADMIN, {"name": "ghostorg", "owner": "ghost"})).status == 404


async def test_team_and_robot_refusals(api):
    await make_acme(api)
    assert (await api("POST", ORG + "/teams", ALICE, {"name": "devs"})).status == 409
    assert (await api("POST", ORG + "/teams", ALICE, {"name": "devs", "permission": "god"})).status == 400
    assert (await api("PUT", ORG + "/teams/nope/members/bobby", ALICE)).status == 404
    assert (await api("PUT", ORG + "/teams/devs/members/ghost", ALICE)).status == 404
    outside = await api("PUT", ORG + "/teams/devs/permissions", ALICE,
                        {"repository": "other/app", "permission": "read"})
    assert outside.status == 400
    assert (await api("PUT", ORG + "/teams/devs/permissions", ALICE,
                      {"repository": "Acme/UPPER", "permission": "read"})).status == 400
    await api("POST", ORG + "/robots", ALICE, {"name": "ci"})
    assert (await api("POST", ORG + "/robots", ALICE, {"name": "ci"})).status == 409
    assert (await api("PUT", ORG + "/robots/nope/permissions", ALICE,
                      {"repository": "acme/app", "permission": "read"})).status == 404
    assert (await api("PUT", ORG + "/robots/ci/permissions", ALICE, {"permission": "read"})).status == 400


async def test_removing_members_but_never_the_last_owner(api, audit_log):
    await make_acme(api)
    assert (await api("DELETE", ORG + "/teams/owners/members/alice", ALICE)).status == 409
    assert (await api("PUT", ORG + "/teams/owners/members/bobby", ALICE)).status == 204
    assert (await api("DELETE", ORG + "/teams/owners/members/alice", BOBBY)).status == 204
    assert (await api("GET", ORG, BOBBY)).body["teams"][1]["members"] == ["bobby"]
    assert (await api("GET", ORG, ALICE)).status == 404  # alice is in no team of acme now
    assert ("bobby", "team_member_removed", "acme/owners") in [(e["actor"], e["action"], e["target"])
                                                               for e in await audit_log()]
