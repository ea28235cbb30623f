"""Probing a private repository: to anyone who may not read it, it must look exactly like one that does
not exist, through every endpoint, and its blobs must not leak into repositories the prober can read."""

from __future__ import annotations

import json
import re

import jwt
import pytest

from registry.services import accounts

from ..api.oci import push_artifact, push_image
from .conftest import AsCaller, as_caller, basic, token_for

ALICE = ("alice", "alice-password")
BOB = ("bobby", "bobby-password")
PRIVATE, MISSING = "alice/secret", "alice/absent"  # same length: answers may differ only by the name
UPLOAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FAKE_UPLOAD = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def secret(registry, admin_session):
    """alice's private alice/secret (v1 with a referrer) and bobby's public bobby/mine; alice/secret's content."""
    async def setup(session):
        for user in (ALICE, BOB):
            await accounts.create_user(session, *user)
        await accounts.set_default_visibility(session, "alice", True)
    await admin_session(setup)
    owner = await as_caller(registry, f"repository:{PRIVATE}:push", credentials=ALICE)
    manifest = await push_image(owner, PRIVATE, "v1")
    await push_artifact(owner, PRIVATE, "application/vnd.example.sbom", subject=manifest)
    await push_image(await as_caller(registry, "repository:bobby/mine:push", credentials=BOB), "bobby/mine", "v1")
    doc = json.loads(manifest.data)
    return {"manifest": manifest, "layer": doc["layers"][0]["digest"]}


def probes(secret: dict) -> list[tuple[str, str, dict]]:
    """Every /v2 request that names a repository `{r}`: (method, path, request keyword arguments)."""
    manifest, layer = secret["manifest"], secret["layer"]
    body = {"data": manifest.data, "headers": {"Content-Type": manifest.media_type}}
    return [
        ("GET", "/v2/{r}/manifests/v1", {}), ("HEAD", "/v2/{r}/manifests/v1", {}),
        ("GET", f"/v2/{{r}}/manifests/{manifest.digest}", {}), ("HEAD", f"/v2/{{r}}/manifests/{manifest.digest}", {}),
        ("GET", f"/v2/{{r}}/blobs/{layer}", {}), ("HEAD", f"/v2/{{r}}/blobs/{layer}", {}),
        ("GET", "/v2/{r}/tags/list", {}), ("GET", "/v2/{r}/tags/list?n=1&last=a", {}),
        ("GET", f"/v2/{{r}}/referrers/{manifest.digest}", {}),
        ("POST", "/v2/{r}/blobs/uploads/", {}),
        ("POST", f"/v2/{{r}}/blobs/uploads/?mount={layer}&from=bobby/mine", {}),
        ("POST", f"/v2/bobby/mine/blobs/uploads/?mount={layer}&from={{r}}", {}),  # mounting out of {r}
        ("GET", f"/v2/{{r}}/blobs/uploads/{FAKE_UPLOAD}", {}),
        ("PATCH", f"/v2/{{r}}/blobs/uploads/{FAKE_UPLOAD}", {"data": b"x"}),
        ("PUT", f"/v2/{{r}}/blobs/uploads/{FAKE_UPLOAD}?digest={layer}", {}),
        ("DELETE", f"/v2/{{r}}/blobs/uploads/{FAKE_UPLOAD}", {}),
        ("PUT", "/v2/{r}/manifests/v2", body),
        ("DELETE", "/v2/{r}/manifests/v1", {}), ("DELETE", f"/v2/{{r}}/manifests/{manifest.digest}", {}),
        ("DELETE", f"/v2/{{r}}/blobs/{layer}", {}),
    ]


CALLERS = ["no credentials", "anonymous token", "bobby's token", "bobby's Basic credentials"]


async def caller(registry, who: str, repository: str) -> AsCaller:
    """`who`, with a token asked as docker asks it for every action on `repository` (and a mount target)."""
    scopes = (f"repository:{repository}:pull,push,delete", "repository:bobby/mine:pull,push")
    if who == "no credentials":
        return AsCaller(registry, {})
    if who == "bobby's Basic credentials":
        return AsCaller(registry, basic(*BOB))
    return await as_caller(registry, *scopes, credentials=BOB if who == "bobby's token" else None)


async def answer(client: AsCaller, method: str, path: str, kwargs: dict, repository: str) -> tuple:
    """Status, headers (but Date) and body, with the repository's name and upload ids blotted out."""
    response = await client._send(method.lower(), path.format(r=repository), allow_redirects=False, **kwargs)
    body = await response.read()

    def blot(text: str) -> str:
        return UPLOAD_ID.sub("<upload>", text.replace(repository, "<r>"))
    headers = sorted((k, blot(v)) for k, v in response.headers.items() if k != "Date")
    return response.status, headers, blot(body.decode())


@pytest.mark.parametrize("who", CALLERS)
async def test_every_endpoint_answers_as_if_the_private_repository_did_not_exist(registry, secret, who):
    owner = await as_caller(registry, f"repository:{PRIVATE}:pull", credentials=ALICE)
    assert (await owner.get(f"/v2/{PRIVATE}/manifests/v1")).status == 200  # control: it exists
    private, missing = await caller(registry, who, PRIVATE), await caller(registry, who, MISSING)
    for method, path, kwargs in probes(secret):
        seen = await answer(private, method, path, kwargs, PRIVATE)
        expected = await answer(missing, method, path, kwargs, MISSING)
        assert seen == expected, f"{who}: {method} {path}"
        mounting_out = path.startswith("/v2/bobby/mine") and who.startswith("bobby")
        assert seen[0] == (202 if mounting_out else 401 if who != "bobby's Basic credentials" else 403), \
            f"{who}: {method} {path}: {seen}"


@pytest.mark.parametrize("who", [None, BOB])
async def test_the_token_server_grants_the_same_on_a_private_and_a_missing_repository(registry, secret, who):
    grants = []
    for name in (PRIVATE, MISSING):
        token = (await token_for(registry, f"repository:{name}:pull,push,delete,*", credentials=who))["token"]
        grants.append(jwt.decode(token, options={"verify_signature": False})["access"])
    assert grants == [[{"type": "repository", "name": name, "actions": []}] for name in (PRIVATE, MISSING)]


@pytest.mark.parametrize("who", [None, BOB])
async def test_the_catalog_does_not_list_the_private_repository(registry, secret, who):
    client = await as_caller(registry, "registry:catalog:*", credentials=who)
    response = await client.get("/v2/_catalog")
    assert response.status == 200
    assert await response.json() == {"repositories": ["bobby/mine"]}
    basic_bob = await registry.get("/v2/_catalog", headers=basic(*BOB))
    assert basic_bob.status == 200 and await basic_bob.json() == {"repositories": ["bobby/mine"]}


@pytest.mark.parametrize("who", [None, BOB])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_private_blob_is_not_readable_through_a_public_repository(registry, secret, who, method):
    client = await as_caller(registry, "repository:bobby/mine:pull", credentials=who)
    for digest in (secret["layer"], secret["manifest"].digest):  # (push_image's config is everyone's)
        response = await client._send(method.lower(), f"/v2/bobby/mine/blobs/{digest}")
        assert response.status == 404, digest
        if method == "GET":
            assert [e["code"] for e in (await response.json())["errors"]] == ["BLOB_UNKNOWN"]


async def test_mounting_from_a_private_repository_without_read_falls_back_to_an_upload(registry, secret):
    bob = await as_caller(registry, "repository:bobby/mine:pull,push", f"repository:{PRIVATE}:pull", credentials=BOB)
    response = await bob.post("/v2/bobby/mine/blobs/uploads/", params={"mount": secret["layer"], "from": PRIVATE})
    assert response.status == 202
    assert response.headers["Location"].startswith("/v2/bobby/mine/blobs/uploads/")
    assert "Docker-Content-Digest" not in response.headers
    assert (await bob.get(f"/v2/bobby/mine/blobs/{secret['layer']}")).status == 404
    # Control: the owner's mount of the same blob works, so the 202 above is the access check's doing.
    alice = await as_caller(registry, "repository:alice/other:pull,push", f"repository:{PRIVATE}:pull",
                            credentials=ALICE)
    mounted = await alice.post("/v2/alice/other/blobs/uploads/", params={"mount": secret["layer"], "from": PRIVATE})
    assert mounted.status == 201
    assert mounted.headers["Docker-Content-Digest"] == secret["layer"]


async def test_knowing_a_private_digest_does_not_claim_the_blob(registry, secret):
    """Deduplicating stores are probed by pushing what is not yours: a digest without bytes, a manifest
    naming blobs you cannot read. Each must be refused, and the blob stay unreadable."""
    bob = await as_caller(registry, "repository:bobby/mine:pull,push", credentials=BOB)
    layer = secret["layer"]
    empty = await bob.post("/v2/bobby/mine/blobs/uploads/", params={"digest": layer})
    assert empty.status == 400
    assert [e["code"] for e in (await empty.json())["errors"]] == ["DIGEST_INVALID"]
    # alice's manifest, pushed into bobby's repository: it names her config and layer.
    manifest = secret["manifest"]
    response = await bob.put("/v2/bobby/mine/manifests/stolen", data=manifest.data,
                             headers={"Content-Type": manifest.media_type})
    assert response.status == 400
    assert [e["code"] for e in (await response.json())["errors"]] == ["MANIFEST_BLOB_UNKNOWN"]
    for digest in (layer, manifest.digest):
        assert (await bob.get(f"/v2/bobby/mine/blobs/{digest}")).status == 404
    assert (await bob.get("/v2/bobby/mine/manifests/stolen")).status == 404
