"""Attacks on token authentication: forged and misused registry tokens, and weak access tokens.

Private-repository probing is in test_attacks_probing.py, password guessing in test_attacks_logins.py,
hostile input in test_attacks_input.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, update

from registry.db.accounts import AccessToken, SigningKey
from registry.db.base import utcnow
from registry.services import accounts
from registry.services.credentials import issue_token, revoke_token

from ..api.oci import push_image
from .conftest import AsCaller, as_caller, basic, bearer, challenge_of, token_for

ALICE = ("alice", "alice-password")


@pytest.fixture
async def alice(registry, admin_session):
    """alice owns alice/app and alice/other (v1 in each); returns her user id."""
    user = await admin_session(lambda s: accounts.create_user(s, *ALICE))
    owner = await as_caller(registry, "repository:alice/app:push", "repository:alice/other:push", credentials=ALICE)
    for name in ("alice/app", "alice/other"):
        await push_image(owner, name, "v1")
    return user.id


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_parts(header: dict, claims: dict) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


def good_claims(**changes) -> dict:
    now = int(time.time())
    claims = {"iss": "berth", "sub": "alice", "aud": "berth", "exp": now + 600, "nbf": now - 1, "iat": now,
              "jti": "f" * 32, "access": [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


async def registry_key(admin_session) -> tuple[str, ec.EllipticCurvePrivateKey]:
    row = await admin_session(lambda s: s.scalar(select(SigningKey)))
    return row.kid, serialization.load_pem_private_key(row.private_pem.encode(), None)


def forge(case: str, kid: str, key: ec.EllipticCurvePrivateKey, genuine: str) -> str:
    """A token made as `case` says, by someone who holds the public key and a genuine token at most."""
    other = ec.generate_private_key(ec.SECP256R1())
    signed = {"control: genuine key": (key, {}), "expired": (key, {"exp": int(time.time()) - 120}),
              "not yet valid": (key, {"nbf": int(time.time()) + 600}), "wrong audience": (key, {"aud": "other"}),
              "wrong issuer": (key, {"iss": "evil"}), "no access claim": (key, {"access": None}),
              "no exp claim": (key, {"exp": None}), "other key, same kid": (other, {})}
    if case in signed:
        signer, changes = signed[case]
        return jwt.encode(good_claims(**changes), signer, algorithm="ES256", headers={"kid": kid})
    if case == "other key, unknown kid":
        return jwt.encode(good_claims(), other, algorithm="ES256", headers={"kid": "ATTACKERKEY"})
    if case.startswith("alg none"):
        alg = case.removeprefix("alg none").strip(" ()") or "none"
        return unsigned_parts({"alg": alg, "typ": "JWT", "kid": kid}, good_claims()) + "."
    if case == "other key, embedded in a jwk header":
        embedded = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(other.public_key()))
        return jwt.encode(good_claims(), other, algorithm="ES256", headers={"kid": kid, "jwk": embedded})
    if case.startswith("HS256 keyed with the public key"):
        encoding = serialization.Encoding.PEM if "PEM" in case else serialization.Encoding.DER
        secret = key.public_key().public_bytes(encoding, serialization.PublicFormat.SubjectPublicKeyInfo)
        body = unsigned_parts({"alg": "HS256", "typ": "JWT", "kid": kid}, good_claims())
        return body + "." + b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    if case == "tampered access, signature kept":
        header, _, signature = genuine.split(".")
        claims = jwt.decode(genuine, options={"verify_signature": False})
        claims["access"] = [{"type": "repository", "name": "alice/app", "actions": ["pull", "push", "delete"]}]
        return header + "." + b64(json.dumps(claims).encode()) + "." + signature
    return {"garbage": "garbage", "three dots": "a.b.c", "empty json": "e30.e30.", "header not json": "bm90.e30.e30",
            "header is a list": "W10.e30.e30", "long": "x" * 6000, "unicode": "tøken.ü.ß"}[case]


FORGERIES = ["other key, same kid", "other key, unknown kid", "other key, embedded in a jwk header", "alg none",
             "alg none (None)", "alg none (NONE)", "HS256 keyed with the public key (PEM)",
             "HS256 keyed with the public key (DER)", "expired", "not yet valid", "wrong audience", "wrong issuer",
             "tampered access, signature kept", "no access claim", "no exp claim", "garbage", "three dots",
             "empty json", "header not json", "header is a list", "long", "unicode"]


@pytest.mark.parametrize("case", ["control: genuine key", *FORGERIES])
@pytest.mark.parametrize("path", ["/v2/", "/v2/alice/app/tags/list"])
async def test_forged_tokens_are_rejected(registry, admin_session, alice, case, path):
    kid, key = await registry_key(admin_session)
    genuine = (await token_for(registry, "repository:alice/app:pull", credentials=ALICE))["token"]
    response = await registry.get(path, headers=bearer(forge(case, kid, key, genuine)))
    if case.startswith("control"):  # the forging is right: only what each case changes is wrong
        assert response.status == 200
        return
    assert response.status == 401
    assert challenge_of(response)["error"] == "invalid_token"
    assert [e["code"] for e in (await response.json())["errors"]] == ["UNAUTHORIZED"]


async def test_a_token_for_one_repository_opens_no_other(registry, alice):
    client = await as_caller(registry, "repository:alice/app:pull,push,delete", credentials=ALICE)
    assert (await client.get("/v2/alice/app/tags/list")).status == 200
    response = await client.get("/v2/alice/other/tags/list")
    assert response.status == 401
    assert challenge_of(response)["error"] == "insufficient_scope"
    assert challenge_of(response)["scope"] == "repository:alice/other:pull"


# A token asked for pull only, used for more: each request needs the scope the challenge names.
ESCALATIONS = [
    ("post", "/v2/alice/app/blobs/uploads/", "repository:alice/app:pull,push"),
    ("put", "/v2/alice/app/manifests/v2", "repository:alice/app:pull,push"),
    ("delete", "/v2/alice/app/manifests/v1", "repository:alice/app:delete"),
    ("delete", "/v2/alice/app/blobs/sha256:" + "0" * 64, "repository:alice/app:delete"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ESCALATIONS)
async def test_a_pull_token_cannot_push_or_delete(registry, alice, method, path, scope):
    client = await as_caller(registry, "repository:alice/app:pull", credentials=ALICE)
    response = await getattr(client, method)(path)
    assert response.status == 401
    assert challenge_of(response) | {"realm": ""} == {"realm": "", "service": "berth", "scope": scope,
                                                      "error": "insufficient_scope"}
    assert [e["code"] for e in (await response.json())["errors"]] == ["UNAUTHORIZED"]
    assert (await registry.get("/v2/alice/app/tags/list", headers=client.headers)).status == 200


# What an owner's personal access token may do, used as Basic credentials on /v2 and through a token.
PAT_CASES = [  # scope, operation, allowed
    ("read", "pull", True), ("read", "push", False), ("read", "delete", False),
    ("read-write", "pull", True), ("read-write", "push", True), ("read-write", "delete", False),
    ("read-write-delete", "delete", True),
]


async def operate(client: AsCaller, operation: str):
    if operation == "pull":
        return await client.get("/v2/alice/app/manifests/v1")
    if operation == "push":
        return await client.post("/v2/alice/app/blobs/uploads/")
    return await client.delete("/v2/alice/app/manifests/v1")


@pytest.mark.parametrize("via", ["basic", "token"])
@pytest.mark.parametrize(("scope", "operation", "allowed"), PAT_CASES)
async def test_personal_access_token_scope_caps_what_it_may_do(registry, admin_session, alice, via, scope,
                                                               operation, allowed):
    pat = (await admin_session(lambda s: issue_token(s, alice, scope))).secret
    if via == "basic":
        client = AsCaller(registry, basic("alice", pat))
    else:
        client = await as_caller(registry, "repository:alice/app:pull,push,delete", credentials=("alice", pat))
    response = await operate(client, operation)
    if allowed:
        assert response.status == {"pull": 200, "push": 202, "delete": 202}[operation]
    elif via == "basic":
        assert response.status == 403
        assert [e["code"] for e in (await response.json())["errors"]] == ["DENIED"]
    else:
        assert response.status == 401
        assert challenge_of(response)["error"] == "insufficient_scope"


@pytest.mark.parametrize("used_before", [False, True], ids=["never used", "used a moment before"])
@pytest.mark.parametrize("state", ["revoked", "expired"])
async def test_revoked_or_expired_personal_access_token_is_refused(registry, admin_session, alice, state,
                                                                   used_before):
    issued = await admin_session(lambda s: issue_token(s, alice, "read-write-delete"))
    if used_before:  # a good login is remembered for a while: not past a revocation or an expiry
        assert (await registry.get("/v2/alice/app/tags/list", headers=basic("alice", issued.secret))).status == 200
        await token_for(registry, "repository:alice/app:pull", credentials=("alice", issued.secret))
    if state == "revoked":
        assert await admin_session(lambda s: revoke_token(s, alice, issued.id))
    else:
        await admin_session(lambda s: s.execute(update(AccessToken).where(AccessToken.id == issued.id)
                                                .values(expires_at=utcnow())))
    response = await registry.get("/token", params={"service": "berth", "scope": "repository:alice/app:pull"},
                                  headers=basic("alice", issued.secret))
    assert response.status == 401
    response = await registry.get("/v2/alice/app/tags/list", headers=basic("alice", issued.secret))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="berth"'


@pytest.mark.parametrize("how", ["GET offline_token", "POST access_type=offline"])
async def test_an_offline_login_with_a_read_only_token_cannot_refresh_into_more(registry, admin_session, alice, how):
    """`docker login` with a read-only PAT keeps a refresh token: it must be worth no more than the PAT."""
    pat = (await admin_session(lambda s: issue_token(s, alice, "read"))).secret
    if how.startswith("GET"):
        login = await token_for(registry, credentials=("alice", pat), offline_token="true")
    else:
        response = await registry.post("/token", data={"grant_type": "password", "username": "alice",
                                                       "password": pat, "access_type": "offline", "service": "berth"})
        assert response.status == 200
        login = await response.json()
    if "refresh_token" not in login:
        return  # refusing to make one at all is a fine answer too
    refreshed = await registry.post("/token", data={"grant_type": "refresh_token", "service": "berth",
                                                    "refresh_token": login["refresh_token"],
                                                    "scope": "repository:alice/app:pull,push,delete"})
    assert refreshed.status == 200
    access = jwt.decode((await refreshed.json())["access_token"], options={"verify_signature": False})["access"]
    assert access == [{"type": "repository", "name": "alice/app", "actions": ["pull"]}]


async def test_a_changed_password_stops_working_at_once(registry, admin_session, alice):
    assert (await registry.get("/v2/alice/app/tags/list", headers=basic(*ALICE))).status == 200
    await token_for(registry, credentials=ALICE)
    await admin_session(lambda s: accounts.set_password(s, "alice", "a-new-password"))
    for response in (await registry.get("/token", params={"service": "berth"}, headers=basic(*ALICE)),
                     await registry.get("/v2/alice/app/tags/list", headers=basic(*ALICE))):
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="berth"'
    assert (await registry.get("/v2/alice/app/tags/list", headers=basic("alice", "a-new-password"))).status == 200
