"""Push blobs (distribution-spec "Pushing blobs"): every upload method, sessions, mounts, digest checks."""

from __future__ import annotations

import pytest

from .oci import (
    ALGORITHMS,
    DCD,
    PUSH_METHODS,
    Content,
    error_codes,
    patch_chunk,
    push_blob,
    push_chunked,
    push_monolithic,
    push_post_put,
    random_blob,
    start_upload,
    with_digest,
)

REPO = "push/blobs"


async def assert_pullable(client, repo: str, blob: Content) -> None:
    response = await client.get(f"/v2/{repo}/blobs/{blob.digest}")
    assert response.status == 200
    assert await response.read() == blob.data


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("method", PUSH_METHODS)
async def test_each_upload_method_creates_a_pullable_blob(client, method, algorithm):
    blob = random_blob(3067, algorithm)  # 3 chunks of 1024 less 5, as the conformance suite sends
    response = await PUSH_METHODS[method](client, REPO, blob)
    assert response.status == 201, await response.text()
    assert response.headers["Location"] == f"/v2/{REPO}/blobs/{blob.digest}"
    assert response.headers[DCD] == blob.digest
    pulled = await client.get(response.headers["Location"])
    assert pulled.status == 200
    assert await pulled.read() == blob.data


@pytest.mark.parametrize("method", ["monolithic", "post-put", "streamed"])
async def test_empty_blob_can_be_pushed(client, method):
    blob = Content(b"")
    response = await PUSH_METHODS[method](client, REPO, blob)
    assert response.status == 201, await response.text()
    await assert_pullable(client, REPO, blob)


async def test_single_chunk_upload(client):
    blob = random_blob(512)
    response = await push_chunked(client, REPO, blob, chunk_size=512)
    assert response.status == 201
    await assert_pullable(client, REPO, blob)


async def test_pushing_a_blob_twice_is_fine(client):
    blob = random_blob()
    await push_blob(client, REPO, blob)
    response = await push_post_put(client, REPO, blob)
    assert response.status == 201
    await assert_pullable(client, REPO, blob)


async def test_upload_sessions_have_unique_locations(client):
    first, second = await start_upload(client, REPO), await start_upload(client, REPO)
    assert first != second
    assert first.startswith(f"/v2/{REPO}/blobs/uploads/")


async def test_fresh_upload_status_is_204_with_range_0_0_and_location(client):
    location = await start_upload(client, REPO)
    status = await client.get(location)
    assert status.status == 204
    assert status.headers["Range"] == "0-0"
    assert status.headers["Location"] == location


async def test_upload_status_reports_the_bytes_received(client):
    location = await start_upload(client, REPO)
    patched = await patch_chunk(client, location, b"x" * 100, 0)
    assert patched.status == 202
    assert patched.headers["Range"] == "0-99"
    status = await client.get(patched.headers["Location"])
    assert status.status == 204
    assert status.headers["Range"] == "0-99"
    assert status.headers["Location"]


async def test_patch_answers_202_with_location_and_range(client):
    location = await start_upload(client, REPO)
    first = await patch_chunk(client, location, b"a" * 22, 0)
    assert (first.status, first.headers["Range"]) == (202, "0-21")
    second = await patch_chunk(client, first.headers["Location"], b"b" * 20, 22)
    assert (second.status, second.headers["Range"]) == (202, "0-41")
    assert second.headers["Location"]


async def test_cancelled_upload_is_gone(client):
    location = await start_upload(client, REPO)
    response = await client.delete(location)
    assert response.status == 204
    status = await client.get(location)
    assert status.status == 404
    assert await error_codes(status) == ["BLOB_UPLOAD_UNKNOWN"]
    patched = await patch_chunk(client, location, b"late", 0)
    assert patched.status == 404


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("method", ["monolithic", "post-put", "chunked", "streamed"])
async def test_wrong_digest_at_close_is_400_digest_invalid_and_nothing_is_stored(client, method, algorithm):
    claimed = random_blob(3072, algorithm)
    sent = Content(claimed.data[:-5], algorithm=algorithm)  # the claimed digest covers 5 more bytes

    async def push() -> object:
        if method == "monolithic":
            return await client.post(f"/v2/{REPO}/blobs/uploads/", params={"digest": claimed.digest},
                                     data=sent.data)
        location = await start_upload(client, REPO)
        if method == "chunked":
            for start in range(0, len(sent.data), 1024):
                chunk = sent.data[start:start + 1024]
                assert (await patch_chunk(client, location, chunk, start)).status == 202
        elif method == "streamed":
            assert (await patch_chunk(client, location, sent.data, None)).status == 202
        body = sent.data if method == "post-put" else None
        return await client.put(with_digest(location, claimed.digest), data=body)

    response = await push()
    assert response.status == 400
    assert await error_codes(response) == ["DIGEST_INVALID"]
    for digest in (claimed.digest, sent.digest):
        assert (await client.head(f"/v2/{REPO}/blobs/{digest}")).status == 404


async def test_monolithic_push_of_a_sha512_blob_is_checked_with_sha512(client):
    blob = random_blob(100, "sha512")
    response = await push_monolithic(client, REPO, blob)
    assert response.status == 201
    assert response.headers[DCD] == blob.digest


# -- cross-repository mount --------------------------------------------------------------------------

async def test_mount_from_a_repository_that_has_the_blob_is_201(client):
    blob = random_blob()
    await push_blob(client, "mount/source", blob)
    response = await client.post("/v2/mount/target/blobs/uploads/",
                                 params={"mount": blob.digest, "from": "mount/source"})
    assert response.status == 201
    assert response.headers["Location"] == f"/v2/mount/target/blobs/{blob.digest}"
    assert response.headers[DCD] == blob.digest
    await assert_pullable(client, "mount/target", blob)


async def test_mount_of_a_blob_that_exists_nowhere_falls_back_to_an_upload(client):
    blob = random_blob()
    await push_blob(client, "mount/source", random_blob())
    response = await client.post("/v2/mount/target/blobs/uploads/",
                                 params={"mount": blob.digest, "from": "mount/source"})
    assert response.status == 202
    location = response.headers["Location"]
    assert location.startswith("/v2/mount/target/blobs/uploads/")
    finished = await client.put(with_digest(location, blob.digest), data=blob.data)
    assert finished.status == 201
    await assert_pullable(client, "mount/target", blob)


async def test_mount_without_from_is_202_and_does_not_expose_the_blob(client):
    blob = random_blob()
    await push_blob(client, "mount/source", blob)
    response = await client.post("/v2/mount/target/blobs/uploads/", params={"mount": blob.digest})
    assert response.status == 202
    assert response.headers["Location"].startswith("/v2/mount/target/blobs/uploads/")
    assert (await client.head(f"/v2/mount/target/blobs/{blob.digest}")).status == 404


async def test_mount_from_a_repository_that_cannot_read_the_blob_is_202(client):
    blob = random_blob()
    await push_blob(client, "mount/owner", blob)
    await push_blob(client, "mount/other", random_blob())
    response = await client.post("/v2/mount/target/blobs/uploads/",
                                 params={"mount": blob.digest, "from": "mount/other"})
    assert response.status == 202
    assert (await client.head(f"/v2/mount/target/blobs/{blob.digest}")).status == 404

