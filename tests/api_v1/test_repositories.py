"""Repository and namespace visibility through the JSON API, and the audit log for administrators."""

from sqlalchemy import select

from registry.db.models import Repository
from registry.services.repositories import ensure_repository

from ..auth.conftest import bearer, token_for
from .conftest import ADMIN, ALICE, BOBBY, error_code


async def repositories(admin_session, *names: str) -> None:
    async def make(session):
        for name in names:
            await ensure_repository(session, name)
    await admin_session(make)


async def anonymous_tags(registry, repository: str) -> int:
    """The status of an anonymous tag listing, with the token an anonymous docker client would get."""
    token = (await token_for(registry, f"repository:{repository}:pull"))["token"]
    return (await registry.get(f"/v2/{repository}/tags/list", headers=bearer(token))).status


async def test_the_owner_makes_a_repository_private(api, registry, admin_session, audit_log):
    await repositories(admin_session, "alice/app")
    assert await anonymous_tags(registry, "alice/app") == 200
    answer = await api("PATCH", "/repositories/alice/app", ALICE, {"visibility": "private"})
    assert answer.status == 200  # answering the repository, as GET does (before descriptions: name and visibility)
    assert (answer.body["repository"], answer.body["is_private"]) == ("alice/app", True)
    private = await admin_session(lambda s: s.scalar(select(Repository.is_private)
                                                     .where(Repository.name == "alice/app")))
    assert private is True
    assert await anonymous_tags(registry, "alice/app") == 401
    assert ("alice", "visibility_changed", "alice/app") in [(e["actor"], e["action"], e["target"])
                                                            for e in await audit_log()]
    assert (await api("PATCH", "/repositories/alice/app", ADMIN, {"visibility": "public"})).status == 200


async def test_a_private_repository_looks_missing_to_others(api, admin_session):
    await repositories(admin_session, "alice/app", "alice/open")
    await api("PATCH", "/repositories/alice/app", ALICE, {"visibility": "private"})
    hidden = await api("PATCH", "/repositories/alice/app", BOBBY, {"visibility": "public"})
    missing = await api("PATCH", "/repositories/alice/nope", BOBBY, {"visibility": "public"})
    assert hidden.status == missing.status == 404
    assert hidden.body["errors"][0]["message"].replace("app", "X") == \
        missing.body["errors"][0]["message"].replace("nope", "X")
    readable = await api("PATCH", "/repositories/alice/open", BOBBY, {"visibility": "private"})
    assert readable.status == 403 and error_code(readable) == "FORBIDDEN"
    assert (await api("PATCH", "/repositories/alice/nope", ALICE, {"visibility": "public"})).status == 404


async def test_visibility_needs_admin_on_the_repository(api, admin_session):
    await repositories(admin_session, "alice/app", "acme/app")
    await api("POST", "/orgs", ALICE, {"name": "acme"})
    await api("POST", "/orgs/acme/teams", ALICE, {"name": "devs", "permission": "write"})
    await api("PUT", "/orgs/acme/teams/devs/members/bobby", ALICE)
    assert (await api("PATCH", "/repositories/acme/app", BOBBY, {"visibility": "private"})).status == 403
    assert (await api("PATCH", "/repositories/acme/app", ALICE, {"visibility": "private"})).status == 200
    read_write = (await api("POST", "/users/alice/tokens", ALICE, {"scope": "read-write"})).body["token"]
    assert (await api("PATCH", "/repositories/alice/app", read_write, {"visibility": "private"})).status == 403
    full = (await api("POST", "/users/alice/tokens", ALICE, {"scope": "read-write-delete"})).body["token"]
    assert (await api("PATCH", "/repositories/alice/app", full, {"visibility": "private"})).status == 200
    for body in [{"visibility": "hidden"}, {}, {"visibility": True}, {"visibility": "private", "x": 1}]:
        assert (await api("PATCH", "/repositories/alice/app", ALICE, body)).status == 400, body


async def test_a_namespace_default_visibility(api, admin_session, audit_log):
    answer = await api("PUT", "/namespaces/alice/visibility", ALICE, {"default": "private"})
    assert answer.status == 200 and answer.body == {"namespace": "alice", "default": "private"}
    await repositories(admin_session, "alice/fresh")
    assert await admin_session(lambda s: s.scalar(select(Repository.is_private)
                                                  .where(Repository.name == "alice/fresh"))) is True
    assert ("alice", "default_visibility_changed", "alice") in [(e["actor"], e["action"], e["target"])
                                                                for e in await audit_log()]
    others = await api("PUT", "/namespaces/alice/visibility", BOBBY, {"default": "public"})
    missing = await api("PUT", "/namespaces/nobody/visibility", BOBBY, {"default": "public"})
    assert others.status == missing.status == 404
    assert others.body["errors"][0]["message"] == missing.body["errors"][0]["message"].replace("nobody", "alice")
    await api("POST", "/orgs", ALICE, {"name": "acme"})
    await api("POST", "/orgs/acme/teams", ALICE, {"name": "devs"})
    assert (await api("PUT", "/namespaces/acme/visibility", BOBBY, {"default": "private"})).status == 404
    await api("PUT", "/orgs/acme/teams/devs/members/bobby", ALICE)
    assert (await api("PUT", "/namespaces/acme/visibility", BOBBY, {"default": "private"})).status == 403
    assert (await api("PUT", "/namespaces/acme/visibility", ALICE, {"default": "private"})).status == 200
    assert (await api("PUT", "/namespaces/bobby/visibility", ADMIN, {"default": "private"})).status == 200
    assert (await api("PUT", "/namespaces/nobody/visibility", ADMIN, {"default": "private"})).status == 404


async def test_the_audit_log(api):
    await api("POST", "/orgs", ALICE, {"name": "acme"})
    everything = await api("GET", "/audit", ADMIN)
    assert everything.status == 200
    event = next(e for e in everything.body["events"] if e["action"] == "organization_created")
    assert event["actor"] == "alice" and event["target"] == "acme" and event["address"]
    assert event["detail"] == {"owner": "alice"}
    assert len((await api("GET", "/audit?limit=1", ADMIN)).body["events"]) == 1
    assert (await api("GET", "/audit?since=1h", ADMIN)).body["events"]
    assert (await api("GET", "/audit?since=2999-01-01T00:00:00", ADMIN)).body["events"] == []
    for query in ["since=yesterday", "since=2²h", "limit=0", "limit=1001", "limit=²", "colour=red"]:
        assert (await api("GET", f"/audit?{query}", ADMIN)).status == 400, query
    assert (await api("GET", "/audit", ALICE)).status == 403
