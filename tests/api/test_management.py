"""Content management (distribution-spec "Deleting tags", "Deleting manifests", "Deleting blobs").

Deletes are atomic: the very next HEAD must already answer 404, with no grace period.
"""

from __future__ import annotations

import pytest

from .oci import (
    ALGORITHMS,
    OCI_INDEX,
    error_codes,
    push_artifact,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    random_blob,
)

REPO = "manage/repo"


async def tags_of(client, repo: str = REPO) -> list[str]:
    response = await client.get(f"/v2/{repo}/tags/list")
    assert response.status == 200
    return (await response.json())["tags"]


async def status_of(client, method: str, url: str) -> int:
    return (await client.request(method, url)).status


async def test_deleting_a_tag_removes_only_that_tag(client):
    pushed = await push_image(client, REPO, "keep")
    await push_manifest(client, REPO, "drop", pushed)
    assert await status_of(client, "GET", f"/v2/{REPO}/manifests/drop") == 200  # read once: nothing stale
    response = await client.delete(f"/v2/{REPO}/manifests/drop")
    assert response.status == 202
    assert await status_of(client, "HEAD", f"/v2/{REPO}/manifests/drop") == 404
    assert await status_of(client, "GET", f"/v2/{REPO}/manifests/drop") == 404
    assert await status_of(client, "HEAD", f"/v2/{REPO}/manifests/keep") == 200
    assert await status_of(client, "HEAD", f"/v2/{REPO}/manifests/{pushed.digest}") == 200
    assert await tags_of(client) == ["keep"]


async def test_deleting_a_tag_twice_is_404(client):
    await push_image(client, REPO, "once")
    assert (await client.delete(f"/v2/{REPO}/manifests/once")).status == 202
    response = await client.delete(f"/v2/{REPO}/manifests/once")
    assert response.status == 404
    assert await error_codes(response) == ["MANIFEST_UNKNOWN"]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_deleting_a_manifest_by_digest_removes_it_and_every_tag_naming_it(client, algorithm):
    other = await push_image(client, REPO, "other")
    pushed = await push_image(client, REPO, algorithm=algorithm)
    # Tagged through ?tag= on the push by digest: a push by tag would name the bytes by their sha256.
    assert (await put_manifest(client, REPO, pushed.digest, pushed, tags=("t1", "t2"))).status == 201
    assert await tags_of(client) == ["other", "t1", "t2"]
    for reference in ("t1", pushed.digest):
        assert await status_of(client, "GET", f"/v2/{REPO}/manifests/{reference}") == 200

    response = await client.delete(f"/v2/{REPO}/manifests/{pushed.digest}")
    assert response.status == 202
    assert await status_of(client, "HEAD", f"/v2/{REPO}/manifests/{pushed.digest}") == 404
    assert await status_of(client, "GET", f"/v2/{REPO}/manifests/{pushed.digest}") == 404
    for tag in ("t1", "t2"):
        assert await status_of(client, "HEAD", f"/v2/{REPO}/manifests/{tag}") == 404
    assert await tags_of(client) == ["other"]
    assert await status_of(client, "HEAD", f"/v2/{REPO}/manifests/{other.digest}") == 200


async def test_deleting_an_unknown_manifest_is_404_and_head_stays_404(client):
    await push_image(client, REPO, "x")
    digest = random_blob().digest
    response = await client.delete(f"/v2/{REPO}/manifests/{digest}")
    assert response.status == 404
    assert await error_codes(response) == ["MANIFEST_UNKNOWN"]
    assert await status_of(client, "HEAD", f"/v2/{REPO}/manifests/{digest}") == 404


async def test_deleting_in_an_unknown_repository_is_404(client):
    for url in (f"/v2/manage/none/manifests/{random_blob().digest}", "/v2/manage/none/manifests/tag",
                f"/v2/manage/none/blobs/{random_blob().digest}"):
        assert await status_of(client, "DELETE", url) == 404


async def test_deleted_referrer_leaves_the_referrers_list(client):
    subject = await push_image(client, REPO, "subject")
    kept = await push_artifact(client, REPO, "application/vnd.example.a", subject)
    dropped = await push_artifact(client, REPO, "application/vnd.example.b", subject)
    assert (await client.delete(f"/v2/{REPO}/manifests/{dropped.digest}")).status == 202
    response = await client.get(f"/v2/{REPO}/referrers/{subject.digest}")
    body = await response.json()
    assert response.headers["Content-Type"] == OCI_INDEX
    assert [d["digest"] for d in body["manifests"]] == [kept.digest]


async def test_a_deleted_manifest_can_be_pushed_again(client):
    pushed = await push_image(client, REPO, "again")
    assert (await client.delete(f"/v2/{REPO}/manifests/{pushed.digest}")).status == 202
    await push_manifest(client, REPO, "again", pushed)
    assert await status_of(client, "HEAD", f"/v2/{REPO}/manifests/again") == 200


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_deleting_a_blob_makes_it_404_at_once(client, algorithm):
    blob = random_blob(algorithm=algorithm)
    await push_blob(client, REPO, blob)
    assert await status_of(client, "GET", f"/v2/{REPO}/blobs/{blob.digest}") == 200
    response = await client.delete(f"/v2/{REPO}/blobs/{blob.digest}")
    assert response.status == 202
    assert await status_of(client, "HEAD", f"/v2/{REPO}/blobs/{blob.digest}") == 404
    assert await status_of(client, "GET", f"/v2/{REPO}/blobs/{blob.digest}") == 404
    again = await client.delete(f"/v2/{REPO}/blobs/{blob.digest}")
    assert again.status == 404
    assert await error_codes(again) == ["BLOB_UNKNOWN"]


async def test_deleting_a_mounted_blob_affects_only_that_repository(client):
    blob = random_blob()
    await push_blob(client, "manage/source", blob)
    mounted = await client.post(f"/v2/{REPO}/blobs/uploads/", params={"mount": blob.digest,
                                                                      "from": "manage/source"})
    assert mounted.status == 201
    assert await status_of(client, "GET", f"/v2/{REPO}/blobs/{blob.digest}") == 200
    assert (await client.delete(f"/v2/{REPO}/blobs/{blob.digest}")).status == 202
    assert await status_of(client, "HEAD", f"/v2/{REPO}/blobs/{blob.digest}") == 404
    source = await client.get(f"/v2/manage/source/blobs/{blob.digest}")
    assert source.status == 200
    assert await source.read() == blob.data


async def test_a_deleted_blob_can_be_pushed_again(client):
    blob = random_blob()
    await push_blob(client, REPO, blob)
    assert (await client.delete(f"/v2/{REPO}/blobs/{blob.digest}")).status == 202
    await push_blob(client, REPO, blob)
    response = await client.get(f"/v2/{REPO}/blobs/{blob.digest}")
    assert await response.read() == blob.data
