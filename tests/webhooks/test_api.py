"""The webhooks JSON API: who may manage them, which URLs are taken, what is shown and audited."""

import pytest

from registry.services import accounts, webhooks

from ..api_v1.conftest import ADMIN, ALICE, BOBBY, error_code
from .conftest import create_hook, hooks_path, push

CAROL = ("carol", "carol-password")


async def test_the_owner_creates_lists_and_deletes_webhooks(api, registry, audit_log):
    await push(registry, "alice/app", "v0")
    created = await api("POST", hooks_path("alice/app"), ALICE, {"name": "ci", "url": "https://ci.example/hook?x=1"})
    assert created.status == 201
    hook = created.body
    assert (hook["name"], hook["url"], hook["active"]) == ("ci", "https://ci.example/hook?x=1", True)
    assert len(hook["secret"]) >= 32 and hook["created_at"]
    assert created.headers["Location"] == f"/api/v1/repositories/alice/app/webhooks/{hook['id']}"
    second = await create_hook(api, "alice/app", "http://10.0.0.7:8080/", name="deploy")
    assert second["secret"] != hook["secret"]

    listed = (await api("GET", hooks_path("alice/app"), ALICE)).body["webhooks"]
    assert [h["name"] for h in listed] == ["ci", "deploy"]
    assert all("secret" not in h for h in listed)  # shown once, at creation
    assert (await api("DELETE", created.headers["Location"].removeprefix("/api/v1"), ALICE)).status == 204
    assert [h["name"] for h in (await api("GET", hooks_path("alice/app"), ALICE)).body["webhooks"]] == ["deploy"]

    events = [(e["actor"], e["action"], e["target"], e["detail"]) for e in await audit_log()]
    assert ("alice", "webhook_created", "alice/app",
            {"webhook": hook["id"], "name": "ci", "host": "ci.example"}) in events
    assert ("alice", "webhook_deleted", "alice/app", {"webhook": hook["id"]}) in events


@pytest.mark.parametrize("url", [
    "ftp://ci.example/hook", "file:///etc/passwd", "javascript:alert(1)", "gopher://ci.example/", "ws://ci.example/",
    "http://", "http:///hook", "//ci.example/hook", "ci.example/hook", "http://ci example/", "http://ci.example:99999/",
    "http://[::1/", "http://ci.example/\nX-Injected: 1", ""])
async def test_only_http_and_https_urls_are_taken(api, registry, url):
    await push(registry, "alice/app", "v0")
    answer = await api("POST", hooks_path("alice/app"), ALICE, {"name": "ci", "url": url})
    assert answer.status == 400 and error_code(answer) == "BAD_REQUEST", answer.body
    assert (await api("GET", hooks_path("alice/app"), ALICE)).body == {"webhooks": []}


async def test_bad_requests_are_refused(api, registry):
    await push(registry, "alice/app", "v0")
    for body in [{"name": "", "url": "http://ci.example/"}, {"name": "a\tb", "url": "http://ci.example/"},
                 {"name": "x" * 101, "url": "http://ci.example/"}, {"url": "http://ci.example/"},
                 {"name": "ci", "url": "http://ci.example/", "secret": "mine"}, {"name": "ci", "url": 7}]:
        assert (await api("POST", hooks_path("alice/app"), ALICE, body)).status == 400, body
    for query in ["limit=0", "limit=x", "since=1h", "limit=1&limit=2"]:
        assert (await api("GET", hooks_path("alice/app") + "/deliveries?" + query, ALICE)).status == 400, query
    assert (await api("DELETE", hooks_path("alice/app") + "/12345", ALICE)).status == 404
    missing = await api("GET", hooks_path("alice/nothing"), ALICE)  # her namespace, but no such repository
    assert missing.status == 404


async def test_a_webhook_is_deleted_only_through_its_own_repository(api, registry):
    await push(registry, "alice/one", "v0")
    await push(registry, "alice/two", "v0")
    hook = await create_hook(api, "alice/one", "http://ci.example/")
    assert (await api("DELETE", hooks_path("alice/two") + f"/{hook['id']}", ALICE)).status == 404
    assert [h["id"] for h in (await api("GET", hooks_path("alice/one"), ALICE)).body["webhooks"]] == [hook["id"]]


async def test_admin_on_the_repository_is_needed_and_strangers_see_nothing(api, registry, admin_session):
    await admin_session(lambda session: accounts.create_user(session, *CAROL))
    await api("POST", "/orgs", ALICE, {"name": "acme"})
    await api("POST", "/orgs/acme/teams", ALICE, {"name": "readers", "permission": "read"})
    await api("PUT", "/orgs/acme/teams/readers/members/bobby", ALICE)
    await push(registry, "acme/app", "v0")
    assert (await api("PATCH", "/repositories/acme/app", ALICE, {"visibility": "private"})).status == 200
    hook = await create_hook(api, "acme/app", "http://ci.example/")
    one = hooks_path("acme/app") + f"/{hook['id']}"
    requests = [("GET", hooks_path("acme/app"), None), ("POST", hooks_path("acme/app"), {"name": "x", "url": "http://x/"}),
                ("GET", hooks_path("acme/app") + "/deliveries", None), ("DELETE", one, None)]

    for method, path, body in requests:
        assert (await api(method, path, BOBBY, body)).status == 403, (method, path)  # reads it, cannot manage it
        hidden = await api(method, path, CAROL, body)
        missing = await api(method, path.replace("acme/app", "acme/nope"), CAROL, body)
        assert hidden.status == missing.status == 404, (method, path)
        assert hidden.body["errors"][0]["message"] == missing.body["errors"][0]["message"].replace("nope", "app")
        assert (await api(method, path, None, body)).status == 401
    assert (await api("GET", hooks_path("acme/app"), ADMIN)).status == 200  # the site administrator
    read_only = (await api("POST", "/users/alice/tokens", ALICE, {"scope": "read"})).body["token"]
    assert (await api("GET", hooks_path("acme/app"), read_only)).status == 403
    assert (await api("DELETE", one, BOBBY)).status == 403
    assert (await api("DELETE", one, ALICE)).status == 204


async def test_the_services_refuse_what_the_api_refuses(api, admin_session, registry):
    await push(registry, "alice/app", "v0")

    async def attempt(session):
        with pytest.raises(webhooks.WebhookRefused):
            await webhooks.create_webhook(session, "alice/app", "ci", "file:///etc/passwd")
        with pytest.raises(accounts.NotFound):
            await webhooks.create_webhook(session, "alice/none", "ci", "http://ci.example/")
        assert await webhooks.delete_webhook(session, "alice/app", 999) is False
        view, secret = await webhooks.create_webhook(session, "alice/app", "  ci  ", "http://ci.example/")
        assert view.name == "ci" and await webhooks.list_webhooks(session, "alice/app") == [view]
        assert await webhooks.recent_deliveries(session, "alice/app") == []
    await admin_session(attempt)
