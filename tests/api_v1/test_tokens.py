"""Personal access tokens through the JSON API: made once, listed without secrets, capped, revoked."""

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from registry.app import create_app
from registry.db.accounts import AccessToken
from registry.db.base import utcnow

from ..auth.conftest import basic
from .conftest import ADMIN, ALICE, BOBBY, error_code

TOKENS = "/users/alice/tokens"


async def test_create_list_and_use_a_token(api, audit_log):
    created = await api("POST", TOKENS, ALICE, {"scope": "read-write", "label": "laptop", "expires_days": 30})
    assert created.status == 201, created.body
    token = created.body
    assert token["token"].startswith("bpat_") and token["scope"] == "read-write" and token["label"] == "laptop"
    assert token["created_at"] < token["expires_at"] and token["last_used_at"] is None
    listed = (await api("GET", TOKENS, ALICE)).body["tokens"]
    assert listed == [{k: v for k, v in token.items() if k != "token"}]
    assert token["token"] not in str(listed)
    # Bearer: the token alone names its user; Basic: the token as the password.
    assert (await api("GET", "/user", token["token"])).body["name"] == "alice"
    assert (await api("GET", "/user", ("alice", token["token"]))).body["name"] == "alice"
    # A login with the token notes when it was last used.
    used = (await api("GET", TOKENS, ALICE)).body["tokens"][0]["last_used_at"]
    assert used is not None and used >= token["created_at"]
    assert ("alice", "access_token_created", "alice") in [(e["actor"], e["action"], e["target"])
                                                          for e in await audit_log()]


async def test_an_administrator_makes_tokens_for_others_and_others_cannot(api):
    assert (await api("POST", "/users/bobby/tokens", ADMIN, {"scope": "read"})).status == 201
    assert (await api("GET", "/users/bobby/tokens", ADMIN)).body["tokens"][0]["scope"] == "read"
    assert (await api("POST", "/users/bobby/tokens", ALICE, {"scope": "read"})).status == 404
    assert (await api("GET", "/users/bobby/tokens", ALICE)).status == 404


async def test_a_read_only_token_only_looks(api):
    token = (await api("POST", TOKENS, ALICE, {"scope": "read"})).body["token"]
    assert (await api("GET", "/user", token)).status == 200
    assert (await api("GET", TOKENS, token)).status == 200
    for method, path, body in [("POST", "/orgs", {"name": "aliceorg"}),
                               ("PUT", "/users/alice/password", {"password": "x" * 12, "current_password": "y"}),
                               ("POST", TOKENS, {"scope": "read-write-delete"})]:
        refused = await api(method, path, token, body)
        assert refused.status == 403 and error_code(refused) == "FORBIDDEN", path
    # Used as a Basic password the scope caps it just the same.
    assert (await api("POST", "/orgs", ("alice", token), {"name": "aliceorg"})).status == 403
    assert len((await api("GET", TOKENS, ALICE)).body["tokens"]) == 1


async def test_only_passwords_and_read_write_delete_tokens_mint_tokens(api):
    read_write = (await api("POST", TOKENS, ALICE, {"scope": "read-write"})).body["token"]
    refused = await api("POST", TOKENS, read_write, {"scope": "read"})
    assert refused.status == 403 and "read-write-delete" in refused.body["errors"][0]["message"]
    assert (await api("DELETE", TOKENS + "/1", read_write)).status == 403  # deleting needs the delete scope
    full = (await api("POST", TOKENS, ALICE, {"scope": "read-write-delete"})).body["token"]
    assert (await api("POST", TOKENS, full, {"scope": "read"})).status == 201


async def test_a_revoked_token_stops_working(api, registry, token_settings, audit_log):
    made = (await api("POST", TOKENS, ALICE, {"scope": "read-write-delete"})).body
    assert (await registry.get("/v2/", headers=basic("alice", made["token"]))).status == 200
    assert (await api("DELETE", f"{TOKENS}/{made['id']}", ALICE)).status == 204
    assert (await api("GET", TOKENS, ALICE)).body["tokens"] == []
    assert (await api("DELETE", f"{TOKENS}/{made['id']}", ALICE)).status == 404
    revoked = await api("GET", "/user", made["token"])  # Bearer is checked against the database each time
    assert revoked.status == 401 and revoked.headers["WWW-Authenticate"] == 'Basic realm="berth"'
    assert ("alice", "access_token_revoked", "alice") in [(e["actor"], e["action"], e["target"])
                                                          for e in await audit_log()]
    # Basic logins are remembered for a minute per worker: a fresh worker (app) shows the revocation.
    async with TestClient(TestServer(create_app(token_settings))) as fresh:
        assert (await fresh.get("/v2/", headers=basic("alice", made["token"]))).status == 401
        answer = await fresh.get("/token", params={"service": "berth", "scope": "repository:alice/x:pull"},
                                 headers=basic("alice", made["token"]))
        assert answer.status == 401


async def test_someone_elses_token_cannot_be_revoked(api):
    made = (await api("POST", "/users/bobby/tokens", BOBBY, {"scope": "read"})).body
    assert (await api("DELETE", f"{TOKENS}/{made['id']}", ALICE)).status == 404  # not one of alice's
    assert (await api("DELETE", f"/users/bobby/tokens/{made['id']}", ALICE)).status == 404
    assert (await api("GET", "/user", made["token"])).status == 200


@pytest.mark.parametrize("token_id", ["0", "2147483648", "999999999999999999"])
async def test_ids_no_row_can_have_are_not_found(api, token_id):
    """Ids past a 32-bit INTEGER (the route admits 18 digits): PostgreSQL's driver refuses them outright."""
    assert (await api("DELETE", f"{TOKENS}/{token_id}", ALICE)).status == 404
    assert (await api("POST", f"/webhooks/deliveries/{token_id}/callback?token=x", None,
                      {"state": "success"})).status == 404


async def test_token_requests_are_validated(api):
    for body, word in [({"scope": "everything"}, "scope"), ({}, "scope"), ({"scope": "read", "expires_days": 0},
                       "expires_days"), ({"scope": "read", "expires_days": "7"}, "expires_days"),
                       ({"scope": "read", "expires_days": True}, "expires_days"),
                       ({"scope": "read", "label": "x" * 101}, "label"), ({"scope": "read", "lable": "x"}, "lable")]:
        answer = await api("POST", TOKENS, ALICE, body)
        assert answer.status == 400 and word in answer.body["errors"][0]["message"], (body, answer.body)
    assert (await api("GET", "/user", "bpat_not-a-real-token")).status == 401
    assert (await api("GET", "/user", "a-registry-jwt-is-not-a-personal-token")).status == 401


async def test_expired_tokens_do_not_work(api, admin_session):
    made = (await api("POST", TOKENS, ALICE, {"scope": "read", "expires_days": 1})).body
    await admin_session(lambda s: s.execute(update(AccessToken).where(AccessToken.id == made["id"])
                                            .values(expires_at=utcnow() - timedelta(seconds=1))))
    assert (await api("GET", "/user", made["token"])).status == 401
