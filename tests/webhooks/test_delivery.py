"""A push through the v2 API reaches the webhooks of its repository: Docker Hub's payload, signed."""

import json
import re
import time

from sqlalchemy import func, select

from registry.db.hub import WebhookDelivery
from registry.services import accounts, hub

from ..api.oci import Content, image, push_blob, push_image, put_manifest, random_blob
from ..api_v1.conftest import ADMIN, ALICE, error_code
from ..auth.conftest import AsCaller, bearer, token_for
from .conftest import as_caller, create_hook, hooks_path, log_when, push, signature


async def test_a_push_is_delivered_with_docker_hubs_payload_signed_with_the_secret(api, registry, receiver):
    await push(registry, "alice/app", "v0")  # before the webhook: never delivered
    hook = await create_hook(api, "alice/app", receiver.url)
    before = int(time.time())
    await push(registry, "alice/app", "v1")
    [got] = await receiver.wait_for(1)

    assert got.headers["X-Berth-Signature-256"] == signature(hook["secret"], got.body)
    assert got.headers["X-Berth-Signature-256"] != signature(hook["secret"] + "x", got.body)
    assert got.headers["X-Berth-Event"] == "push"
    assert got.headers["Content-Type"] == "application/json"
    payload = json.loads(got.body)
    assert set(payload) == {"callback_url", "push_data", "repository"}
    push_data = payload["push_data"]
    assert (push_data["tag"], push_data["pusher"], push_data["images"]) == ("v1", "alice", [])
    assert before <= push_data["pushed_at"] <= time.time() + 1
    repository = payload["repository"]
    assert {k: repository[k] for k in ("repo_name", "namespace", "name", "owner", "status", "is_private",
                                       "is_official", "star_count", "description", "full_description")} == {
        "repo_name": "alice/app", "namespace": "alice", "name": "app", "owner": "alice", "status": "Active",
        "is_private": False, "is_official": False, "star_count": 0, "description": "", "full_description": ""}
    assert isinstance(repository["pull_count"], int)
    assert before - 60 <= repository["date_created"] <= time.time() + 1
    assert repository["repo_url"] == f"http://{registry.host}:{registry.port}/r/alice/app"
    assert (await registry.get("/r/alice/app")).status == 200  # the repository's web page
    delivery = int(got.headers["X-Berth-Delivery"])
    assert re.fullmatch(rf"http://{registry.host}:{registry.port}/api/v1/webhooks/deliveries/{delivery}/callback"
                        r"\?token=[0-9a-f]{32}", payload["callback_url"]), payload["callback_url"]

    [logged] = await log_when(api, "alice/app", lambda log: log and log[0]["state"] == "delivered")
    assert logged["id"] == delivery and logged["webhook"] == "ci"
    assert (logged["attempts"], logged["last_status"], logged["last_error"]) == (1, 200, None)
    assert logged["delivered_at"] and logged["next_attempt_at"] is None
    assert len(receiver.received) == 1


async def test_the_payload_tells_the_repository_as_it_stands(api, registry, admin_session, receiver):
    await push(registry, "alice/app", "v0")
    await create_hook(api, "alice/app", receiver.url)

    async def describe(session):
        await hub.set_descriptions(session, "alice/app", "Short.", "# Long\n")
        await accounts.set_visibility(session, "alice/app", True)
        await hub.set_star(session, (await accounts.get_user(session, "bobby")).id, "alice/app", True)
    await admin_session(describe)
    await push(registry, "alice/app", "v1")
    [got] = await receiver.wait_for(1)
    repository = json.loads(got.body)["repository"]
    assert (repository["description"], repository["full_description"]) == ("Short.", "# Long\n")
    assert (repository["is_private"], repository["star_count"]) == (True, 1)


async def test_an_official_image_says_so(api, registry, receiver):
    await push(registry, "busybox", "1", credentials=ADMIN)  # shown as library/busybox
    hook = await create_hook(api, "library/busybox", receiver.url, credentials=ADMIN)
    await push(registry, "busybox", "2", credentials=ADMIN)
    [got] = await receiver.wait_for(1)
    assert got.headers["X-Berth-Signature-256"] == signature(hook["secret"], got.body)
    payload = json.loads(got.body)
    assert payload["push_data"]["pusher"] == "admin"
    assert {k: payload["repository"][k] for k in ("repo_name", "namespace", "name", "is_official", "owner")} == {
        "repo_name": "busybox", "namespace": "library", "name": "busybox", "is_official": True,
        "owner": "library"}
    assert payload["repository"]["repo_url"] == f"http://{registry.host}:{registry.port}/_/busybox"
    assert (await registry.get("/_/busybox")).status == 200


async def test_a_deeper_name_sends_its_slashes_as_2f(api, registry, receiver):
    await push(registry, "alice/team/app", "1")
    answer = await api("POST", hooks_path("alice/team%2Fapp"), ALICE, {"name": "ci", "url": receiver.url})
    assert answer.status == 201, answer.body
    assert answer.headers["Location"] == f"/api/v1/repositories/alice/team%2Fapp/webhooks/{answer.body['id']}"
    await push(registry, "alice/team/app", "2")
    [got] = await receiver.wait_for(1)
    repository = json.loads(got.body)["repository"]
    assert (repository["repo_name"], repository["namespace"], repository["name"]) == (
        "alice/team/app", "alice", "team/app")
    assert (await api("DELETE", answer.headers["Location"].removeprefix("/api/v1"), ALICE)).status == 204


async def test_each_tag_a_push_sets_is_one_delivery_and_a_push_by_digest_none(api, registry, admin_session,
                                                                               receiver):
    await push(registry, "alice/app", "v0")
    await create_hook(api, "alice/app", receiver.url, name="one")
    await create_hook(api, "alice/app", receiver.url.replace("/hook", "/other"), name="two")
    caller = await as_caller(registry, "repository:alice/app:pull,push", credentials=ALICE)
    config, layer = Content(b'{"os":"linux"}'), random_blob()
    for blob in (config, layer):
        await push_blob(caller, "alice/app", blob)
    manifest = image(config, [layer])
    assert (await put_manifest(caller, "alice/app", manifest.digest, manifest)).status == 201
    assert (await put_manifest(caller, "alice/app", "a", manifest, tags=("b",))).status == 201

    received = await receiver.wait_for(4)
    sent = sorted((r.path, json.loads(r.body)["push_data"]["tag"]) for r in received)
    assert sent == [("/hook", "a"), ("/hook", "b"), ("/other", "a"), ("/other", "b")]
    assert len({r.headers["X-Berth-Delivery"] for r in received}) == 4
    await log_when(api, "alice/app", lambda log: len(log) == 4 and {d["state"] for d in log} == {"delivered"})
    outbox = await admin_session(lambda s: s.scalar(select(func.count()).select_from(WebhookDelivery)))
    assert outbox == 4 and len(receiver.received) == 4


async def test_pushes_to_other_repositories_are_not_delivered(api, registry, receiver):
    await push(registry, "alice/app", "v0")
    await push(registry, "alice/app-2", "v0")
    await create_hook(api, "alice/app", receiver.url)
    await push(registry, "alice/app-2", "v1")
    await push(registry, "alice/app", "v1")
    [got] = await receiver.wait_for(1)
    assert json.loads(got.body)["repository"]["repo_name"] == "alice/app"
    await log_when(api, "alice/app", lambda log: log and log[0]["state"] == "delivered")
    assert len(receiver.received) == 1
    assert (await api("GET", hooks_path("alice/app-2") + "/deliveries", ALICE)).body == {"deliveries": []}


async def test_a_receiver_answers_through_the_callback_url(api, registry, receiver, audit_log):
    await push(registry, "alice/app", "v0")
    await create_hook(api, "alice/app", receiver.url)
    await push(registry, "alice/app", "v1")
    [got] = await receiver.wait_for(1)
    callback = json.loads(got.body)["callback_url"]
    path = callback.split("/api/v1", 1)[1]
    report = {"state": "success", "description": "tests passed", "context": "ci",
              "target_url": "https://ci.example/build/7"}

    answer = await api("POST", path, None, report)  # no login: the token in the URL is the credential
    assert answer.status == 200 and answer.body == {"id": int(got.headers["X-Berth-Delivery"]), "state": "success"}
    [event] = [e for e in await audit_log() if e["action"] == "webhook_callback"]
    assert event["target"] == "alice/app"
    assert event["detail"] == {"delivery": int(got.headers["X-Berth-Delivery"]), **report}

    forged = path[:-1] + ("0" if path[-1] != "0" else "1")
    assert (await api("POST", forged, None, report)).status == 404
    assert (await api("POST", path.split("?")[0], None, report)).status == 404
    bad = await api("POST", path, None, {"state": "fine"})
    assert bad.status == 400 and error_code(bad) == "BAD_REQUEST"


async def test_links_use_the_address_clients_reach_the_registry_by(api, registry, receiver):
    await push(registry, "alice/app", "v0")
    await create_hook(api, "alice/app", receiver.url)
    token = (await token_for(registry, "repository:alice/app:pull,push", credentials=ALICE))["token"]
    proxied = AsCaller(registry, {**bearer(token), "X-Forwarded-Proto": "https", "X-Forwarded-Host": "hub.example"})
    await push_image(proxied, "alice/app", "v1")
    [got] = await receiver.wait_for(1)
    payload = json.loads(got.body)
    assert payload["callback_url"].startswith("https://hub.example/api/v1/webhooks/deliveries/")
    assert payload["repository"]["repo_url"] == "https://hub.example/r/alice/app"
