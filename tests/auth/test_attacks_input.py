"""Hostile input to the token server and the v2 API: scopes, names, parameters and headers an attacker
writes. Each is refused or ignored as a client error: never a 500, never more access."""

from __future__ import annotations

import base64
import re

import jwt
import pytest
from yarl import URL

from registry.services import accounts

from ..api.oci import push_image
from .conftest import as_caller, basic, challenge_of, token_for

ALICE = ("alice", "alice-password")


@pytest.fixture
async def alice(registry, admin_session):
    """alice owns alice/app and alice/other (v1 in each)."""
    await admin_session(lambda s: accounts.create_user(s, *ALICE))
    owner = await as_caller(registry, "repository:alice/app:push", "repository:alice/other:push", credentials=ALICE)
    for name in ("alice/app", "alice/other"):
        await push_image(owner, name, "v1")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def repository(name: str, *actions: str) -> dict:
    return {"type": "repository", "name": name, "actions": list(actions)}


# Hostile scope strings: each is answered 200 with exactly this access (an invalid name grants nothing).
HOSTILE_SCOPES = [
    ("repository:alice/app:pull:push", []),
    ("repository:alice/app", []),
    ("repository::pull", []),
    (":::", []),
    ('repository:"alice/app":pull', []),
    ("repository:alice/app' OR '1'='1:pull", []),
    ("repository:alice/app;DROP TABLE repository;--:pull", []),
    ("repository:alice/../bobby/x:push", []),
    ("repository:../../etc/passwd:pull", []),
    ("repository:ålice/app:pull", []),
    ("repository:ALICE/app:pull", []),
    ("repository:alice/app\x00:pull", []),
    ("repository:alice/app:pull\x00", [repository("alice/app")]),
    ("repository:alice/app:pull\npush", [repository("alice/app", "pull")]),
    ("REPOSITORY:alice/app:pull", []),
    ("repository:" + "a" * 256 + ":pull", []),
    ("repository:alice/" + "a" * 3000 + ":pull", []),
    ("repository:alice/app:" + ",".join(["pull"] * 500), [repository("alice/app", "pull")]),
    ("registry:catalog:*,pull", [{"type": "registry", "name": "catalog", "actions": ["*"]}]),
]


@pytest.mark.parametrize(("scope", "access"), HOSTILE_SCOPES, ids=[repr(s[:40]) for s, _ in HOSTILE_SCOPES])
async def test_hostile_scopes_grant_only_what_is_valid(registry, alice, scope, access):
    answer = await token_for(registry, scope, credentials=ALICE)
    assert jwt.decode(answer["token"], options={"verify_signature": False})["access"] == access


async def test_scopes_beyond_the_limit_are_dropped(registry, alice):
    answer = await token_for(registry, *(f"repository:alice/r{i}:pull" for i in range(100)), credentials=ALICE)
    assert len(jwt.decode(answer["token"], options={"verify_signature": False})["access"]) == 32


HOSTILE_PATHS = [  # a path on /v2 with a hostile name or parameter, and the answer
    ("/v2/alice/app/tags/list?n=-1", 400), ("/v2/alice/app/tags/list?n=99999999999", 400),
    ("/v2/alice/app/tags/list?last=" + "%27%20OR%201%3D1--" * 50, 200),
    ("/v2/ALICE/app/tags/list", 400), ("/v2/alice/app%00/tags/list", 400), ("/v2/%C3%A5lice/app/tags/list", 400),
    ("/v2/alice/%2e%2e/other/tags/list", 400), ("/v2/alice/../other/tags/list", 400),
    ("/v2/" + "a" * 300 + "/tags/list", 400),
    ("/v2/alice/app/manifests/..%2f..%2fetc%2fpasswd", 404), ("/v2/alice/app/blobs/sha256:..%2f..%2fx", 400),
    ("/v2/alice/app/blobs/uploads/..%2f..%2fx", 404), ("/v2/alice/app/referrers/sha256:%27", 400),
]


@pytest.mark.parametrize(("path", "status"), HOSTILE_PATHS)
async def test_hostile_paths_and_parameters_are_client_errors(registry, alice, path, status):
    client = await as_caller(registry, "repository:alice/app:pull,push", credentials=ALICE)
    raw = URL(str(registry.make_url("/")).rstrip("/") + path, encoded=True)  # sent as written, dots and all
    response = await registry.session.get(raw, headers=client.headers)
    assert response.status == status, await response.text()


@pytest.mark.parametrize("mount", ["../../x", "sha256:" + "0" * 64 + "' OR 1=1", ""])
@pytest.mark.parametrize("source", ["alice/app' OR '1'='1", "../alice/app", "", "a" * 5000])
async def test_hostile_mount_parameters_fall_back_to_an_upload(registry, alice, mount, source):
    client = await as_caller(registry, "repository:alice/other:pull,push", credentials=ALICE)
    response = await client.post("/v2/alice/other/blobs/uploads/", params={"mount": mount, "from": source})
    assert response.status == 202


@pytest.mark.parametrize("username", ["alice' OR '1'='1", "alice\x00", "ålice", "a" * 5000, "+", "acme+",
                                      "+ci", "acme+ci+x", "alice\r\nX-Injected: 1", "%00"])
async def test_hostile_usernames_are_refused_cleanly(registry, alice, username):
    response = await registry.get("/token", params={"service": "berth"}, headers=basic(username, "alice-password"))
    assert response.status == 401
    assert "X-Injected" not in response.headers


# Authorization headers that are not Basic credentials: 401 with a challenge, never 500.
MALFORMED_BASIC = ["Basic !!!", "Basic " + b64(b"no-colon"), "Basic " + b64(b":no-user"), "Basic " + b64(b"\xff\xfe:x"),
                   "Basic", "Basic " + "A" * 5000, "basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ=="]


@pytest.mark.parametrize("header", MALFORMED_BASIC, ids=["not base64", "no colon", "no username", "not utf-8",
                                                          "no credentials", "very long", "excess padding"])
@pytest.mark.parametrize("path", ["/v2/", "/token?service=berth"])
async def test_malformed_basic_credentials_are_401(registry, alice, path, header):
    response = await registry.get(path, headers={"Authorization": header})
    assert response.status == 401
    assert [e["code"] for e in (await response.json())["errors"]] == ["UNAUTHORIZED"]
    assert response.headers.get("WWW-Authenticate"), "a 401 must carry a challenge (RFC 9110 15.5.2)"


@pytest.mark.parametrize("header", ["Digest username=alice", "Token abc", "NTLM TlRMTVNTUAAB", "Negotiate x",
                                    "alice:alice-password", "Bearer-ish abc"])
async def test_unknown_authorization_scheme_is_401(registry, alice, header):
    response = await registry.get("/v2/alice/app/tags/list", headers={"Authorization": header})
    assert response.status == 401
    assert challenge_of(response)["error"] == "invalid_request"
    assert [e["code"] for e in (await response.json())["errors"]] == ["UNAUTHORIZED"]


# A challenge docker can parse: auth-params whose quoted strings hold no quote or backslash.
CHALLENGE = re.compile(r'Bearer [a-z]+="[^"\\]*"(?:,[a-z]+="[^"\\]*")*')


@pytest.mark.parametrize(("header", "value"), [
    ("X-Forwarded-Host", "registry.example.com"),  # control: what a proxy sends
    ("X-Forwarded-Host", 'evil.example"'),
    ("X-Forwarded-Host", "evil.example\\"),
    ("X-Forwarded-Host", 'evil.example"error="invalid_token'),
    ("X-Forwarded-Proto", 'https"'),
])
async def test_forwarded_headers_cannot_break_the_challenge(registry, header, value):
    """The realm is built from X-Forwarded-* when no public_url is set: a quote or backslash in them must
    not end up unescaped in the challenge docker parses."""
    response = await registry.get("/v2/alice/app/tags/list", headers={header: value})
    assert response.status == 401
    assert CHALLENGE.fullmatch(response.headers["WWW-Authenticate"]), response.headers["WWW-Authenticate"]
    challenge = challenge_of(response)
    assert (challenge["service"], challenge["scope"]) == ("berth", "repository:alice/app:pull")
