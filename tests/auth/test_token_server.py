"""The token server (Docker "Token Authentication Specification", OAuth2 "Token Authentication"): who gets
which token for which scopes, and what the token says."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from registry.db.accounts import SigningKey
from registry.services import accounts
from registry.services.credentials import issue_token

from ..api.oci import push_image
from .conftest import ADMIN_PASSWORD, as_caller, basic, token_for

ALICE = ("alice", "alice-password")
BOB = ("bobby", "bobby-password")


@pytest.fixture
async def people(registry, admin_session):
    """alice (with a read PAT) owns the public alice/app; bobby is nobody special; acme+ci may push acme/app."""
    async def setup(session):
        for name, password in (ALICE, BOB):
            user = await accounts.create_user(session, name, password)
            if name == "alice":
                read_pat = (await issue_token(session, user.id, "read")).secret
        await accounts.create_organization(session, "acme", "alice")
        robot = await accounts.create_robot(session, "acme", "ci")
        await accounts.grant_robot(session, "acme", "ci", "acme/app", "write")
        return {"pat": read_pat, "robot": ("acme+ci", robot)}
    found = await admin_session(setup)
    await push_image(await as_caller(registry, "repository:alice/app:pull,push", credentials=ALICE), "alice/app", "v1")
    return found


def access_of(answer: dict) -> list[dict]:
    return jwt.decode(answer["token"], options={"verify_signature": False})["access"]


def repo(name: str, *actions: str) -> dict:
    return {"type": "repository", "name": name, "actions": list(actions)}


# Who asks for what, and the access the token lists: the intersection, never an error.
GRANTS = [
    ("anonymous, public repo", None, ["repository:alice/app:pull,push"], [repo("alice/app", "pull")]),
    ("anonymous, missing repo", None, ["repository:alice/nothing:pull"], [repo("alice/nothing")]),
    ("password", "alice", ["repository:alice/app:pull,push,delete"], [repo("alice/app", "delete", "pull", "push")]),
    ("password, new repo in own namespace", "alice", ["repository:alice/new:pull,push"],
     [repo("alice/new", "pull", "push")]),
    ("password, someone else's repo", "bobby", ["repository:alice/app:pull,push,delete"], [repo("alice/app", "pull")]),
    ("read PAT as password", "pat", ["repository:alice/app:pull,push,delete"], [repo("alice/app", "pull")]),
    ("robot secret", "robot", ["repository:acme/app:pull,push,delete"], [repo("acme/app", "pull", "push")]),
    ("robot outside its grants", "robot", ["repository:acme/other:pull,push"], [repo("acme/other")]),
    ("repeated scope parameters", "alice", ["repository:alice/app:pull", "repository:acme/app:push"],
     [repo("alice/app", "pull"), repo("acme/app", "push")]),
    ("space-separated scopes", "bobby", ["repository:alice/app:pull repository:bobby/x:push"],
     [repo("alice/app", "pull"), repo("bobby/x", "push")]),
    ("* action, owner", "alice", ["repository:alice/app:*"], [repo("alice/app", "delete", "pull", "push")]),
    ("* action, anonymous", None, ["repository:alice/app:*"], [repo("alice/app", "pull")]),
    ("catalog", None, ["registry:catalog:*"], [{"type": "registry", "name": "catalog", "actions": ["*"]}]),
    ("catalog, other action", "alice", ["registry:catalog:pull"],
     [{"type": "registry", "name": "catalog", "actions": []}]),
    ("unknown resource type", "alice", ["plugin:alice/app:pull"], []),
    ("no scope", "alice", [], []),
]


@pytest.mark.parametrize(("case", "who", "scopes", "expected"), GRANTS, ids=[g[0] for g in GRANTS])
async def test_token_lists_what_was_asked_and_allowed(registry, people, case, who, scopes, expected):
    credentials = {None: None, "alice": ALICE, "bobby": BOB, "pat": ("alice", people["pat"]),
                   "robot": people["robot"]}[who]
    answer = await token_for(registry, *scopes, credentials=credentials)
    assert access_of(answer) == expected


async def test_catalog_token_lists_only_readable_repositories(registry, people, admin_session):
    await admin_session(lambda s: accounts.set_visibility(s, "alice/app", True))
    await push_image(await as_caller(registry, "repository:bobby/open:push", credentials=BOB), "bobby/open", "v1")
    # acme/app exists (empty, public) since the robot was granted it; alice/app is private now.
    for credentials, listed in ((None, ["acme/app", "bobby/open"]), (BOB, ["acme/app", "bobby/open"]),
                                (ALICE, ["acme/app", "alice/app", "bobby/open"])):
        client = await as_caller(registry, "registry:catalog:*", credentials=credentials)
        response = await client.get("/v2/_catalog")
        assert response.status == 200
        assert (await response.json()) == {"repositories": listed}


@pytest.mark.parametrize("credentials", [("alice", "wrong-password"), ("nobody", "alice-password"),
                                         ("acme+ci", "brobot_wrong"), ("alice", "bpat_" + "x" * 43)],
                         ids=["wrong password", "unknown user", "wrong robot secret", "unknown PAT"])
async def test_bad_credentials_get_401(registry, people, credentials):
    response = await registry.get("/token", params={"service": "berth", "scope": "repository:alice/app:pull"},
                                  headers=basic(*credentials))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="berth"'
    assert [e["code"] for e in (await response.json())["errors"]] == ["UNAUTHORIZED"]
    assert "token" not in await response.text()


async def test_another_service_is_refused(registry):
    response = await registry.get("/token", params={"service": "elsewhere", "scope": "repository:a/b:pull"})
    assert response.status == 403
    assert [e["code"] for e in (await response.json())["errors"]] == ["DENIED"]


async def test_offline_token_gives_users_a_refresh_token(registry, people):
    online = await token_for(registry, credentials=ALICE)
    offline = await token_for(registry, credentials=ALICE, offline_token="true")
    anonymous = await token_for(registry, offline_token="true")
    assert "refresh_token" not in online and "refresh_token" not in anonymous
    assert offline["refresh_token"].startswith("brt_")


async def post_token(registry, **form):
    return await registry.post("/token", data={"service": "berth", **form})


async def test_post_password_grant_then_refresh_grant(registry, people):
    login = await post_token(registry, grant_type="password", username="alice", password="alice-password",
                             client_id="docker", access_type="offline", scope="repository:alice/app:pull")
    assert login.status == 200
    assert login.headers["Cache-Control"] == "no-store"
    first = await login.json()
    assert access_of({"token": first["access_token"]}) == [repo("alice/app", "pull")]
    refresh = first["refresh_token"]
    # docker sends the refresh token alone, without a username.
    again = await post_token(registry, grant_type="refresh_token", refresh_token=refresh, client_id="docker",
                             scope="repository:alice/app:pull,push repository:acme/app:pull")
    assert again.status == 200
    body = await again.json()
    assert access_of({"token": body["access_token"]}) == [repo("alice/app", "pull", "push"), repo("acme/app", "pull")]
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["sub"] == "alice"
    assert "refresh_token" not in body  # refreshing mints no further refresh tokens


@pytest.mark.parametrize("form", [
    {"grant_type": "password", "username": "alice", "password": "wrong-password"},
    {"grant_type": "refresh_token", "refresh_token": "brt_not-a-real-one"},
    {"grant_type": "refresh_token"},
], ids=["wrong password", "unknown refresh token", "no refresh token"])
async def test_post_with_bad_credentials_gets_401(registry, people, form):
    response = await post_token(registry, **form)
    assert response.status == 401
    assert [e["code"] for e in (await response.json())["errors"]] == ["UNAUTHORIZED"]


async def test_a_personal_access_token_is_not_a_refresh_token(registry, people):
    response = await post_token(registry, grant_type="refresh_token", refresh_token=people["pat"])
    assert response.status == 401


@pytest.mark.parametrize("grant_type", ["client_credentials", "authorization_code", "", None])
async def test_unsupported_grant_type_is_400(registry, grant_type):
    form = {} if grant_type is None else {"grant_type": grant_type}
    response = await post_token(registry, **form)
    assert response.status == 400
    assert [e["code"] for e in (await response.json())["errors"]] == ["UNSUPPORTED"]


async def signing_keys(registry, admin_session) -> dict[str, object]:
    async def load(session):
        return (await session.scalars(select(SigningKey))).all()
    return {key.kid: serialization.load_pem_private_key(key.private_pem.encode(), None).public_key()
            for key in await admin_session(load)}


def segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.mark.parametrize("who", ["alice", "anonymous"])
async def test_token_claims_and_header(registry, people, admin_session, who):
    before = int(time.time())
    answer = await token_for(registry, "repository:alice/app:pull", credentials=ALICE if who == "alice" else None)
    after = int(time.time())
    keys = await signing_keys(registry, admin_session)
    header = segment(answer["token"], 0)
    assert header == {"alg": "ES256", "kid": header["kid"], "typ": "JWT"} and header["kid"] in keys
    claims = jwt.decode(answer["token"], keys[header["kid"]], algorithms=["ES256"], audience="berth",
                        issuer="berth")
    assert set(claims) == {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"}
    assert claims["sub"] == ("alice" if who == "alice" else "")
    assert before <= claims["iat"] <= after and claims["nbf"] <= claims["iat"]
    assert claims["exp"] == claims["iat"] + 3600
    assert claims["access"] == [repo("alice/app", "pull")]
    assert answer["expires_in"] == 3600 and answer["token"] == answer["access_token"]
    issued = datetime.strptime(answer["issued_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert int(issued.timestamp()) == claims["iat"]
    other = await token_for(registry, "repository:alice/app:pull", credentials=ALICE if who == "alice" else None)
    assert jwt.decode(other["token"], options={"verify_signature": False})["jti"] != claims["jti"]


async def test_admin_may_do_anything_anywhere(registry, people):
    answer = await token_for(registry, "repository:alice/app:*", "repository:library/base:*",
                             credentials=("admin", ADMIN_PASSWORD))
    assert access_of(answer) == [repo("alice/app", "delete", "pull", "push"),
                                 repo("library/base", "delete", "pull", "push")]
