"""Failures (distribution-spec "Error Codes"): the right code and status, the spec's JSON body, no 500s."""

from __future__ import annotations

import json

import pytest

from .oci import (
    OCI_INDEX,
    OCI_MANIFEST,
    Content,
    error_codes,
    image,
    index,
    patch_chunk,
    push_blob,
    push_image,
    put_manifest,
    random_blob,
    start_upload,
    with_digest,
)

REPO = "errors/repo"
API_VERSION = ("Docker-Distribution-API-Version", "registry/2.0")
BAD_NAMES = ["UPPER/case", "-leading", "trailing-", "double//slash", "a..b", "a/", "x" * 256]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("method, path", [
    ("GET", "/manifests/latest"), ("PUT", "/manifests/latest"), ("GET", "/tags/list"),
    ("POST", "/blobs/uploads/"), ("GET", "/blobs/sha256:" + "0" * 64)])
async def test_invalid_repository_name_is_400_name_invalid(client, name, method, path):
    response = await client.request(method, f"/v2/{name}{path}")
    assert response.status == 400
    assert await error_codes(response) == ["NAME_INVALID"]


async def test_longest_valid_name_works(client):
    name = "/".join(["a" * 63] * 4)  # 255 characters
    assert len(name) == 255
    await push_blob(client, name, random_blob())


@pytest.mark.parametrize("digest", ["sha256:xyz", "sha256:" + "A" * 64, "sha256:" + "0" * 63,
                                    "sha512:" + "0" * 64, "md5:" + "0" * 32, "sha256"])
async def test_malformed_digest_is_400_digest_invalid(client, digest):
    await push_blob(client, REPO, random_blob())
    location = await start_upload(client, REPO)
    for response in [await client.get(f"/v2/{REPO}/blobs/{digest}"),
                     await client.post(f"/v2/{REPO}/blobs/uploads/", params={"digest": digest}, data=b"x"),
                     await client.put(location, params={"digest": digest}, data=b"x"),
                     await client.get(f"/v2/{REPO}/referrers/{digest}")]:
        assert response.status == 400, response.url
        assert await error_codes(response) == ["DIGEST_INVALID"]


async def test_manifest_put_to_a_malformed_digest_is_400(client):
    pushed = await push_image(client, REPO, "x")
    response = await put_manifest(client, REPO, "sha256:baddigeststring", pushed)
    assert response.status == 400
    assert await error_codes(response) == ["DIGEST_INVALID"]


async def test_manifest_put_whose_bytes_do_not_match_the_digest_is_400(client):
    pushed = await push_image(client, REPO, "x")
    altered = Content(pushed.data + b"  ", pushed.media_type)
    response = await put_manifest(client, REPO, pushed.digest, altered)
    assert response.status == 400
    assert await error_codes(response) == ["DIGEST_INVALID"]


async def test_close_without_digest_is_400_and_the_session_survives(client):
    location = await start_upload(client, REPO)
    response = await client.put(location, data=b"abc")
    assert response.status == 400
    assert await error_codes(response) == ["DIGEST_INVALID"]
    assert (await client.get(location)).status == 204


@pytest.mark.parametrize("upload_id", ["00000000-0000-0000-0000-000000000000", "%00", "not-an-upload",
                                       "0000000-0000-0000-0000-0000000000000", "..."])
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
async def test_unknown_upload_is_404_blob_upload_unknown(client, method, upload_id):
    await start_upload(client, REPO)
    url = with_digest(f"/v2/{REPO}/blobs/uploads/{upload_id}", random_blob().digest)
    response = await client.request(method, url, data=b"x" if method in ("PATCH", "PUT") else None)
    assert response.status == 404
    assert await error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]


@pytest.mark.parametrize("upload_id", ["..", "%2E%2E", "../../blobs", "%2e%2e%2f%2e%2e"])
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
async def test_path_tricks_in_upload_urls_reach_nothing(client, settings, method, upload_id):
    await push_blob(client, REPO, random_blob())
    before = sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*"))
    url = with_digest(f"/v2/{REPO}/blobs/uploads/{upload_id}", random_blob().digest)
    response = await client.request(method, url, data=b"x" if method in ("PATCH", "PUT") else None)
    assert response.status == 404
    assert await error_codes(response) in (["BLOB_UPLOAD_UNKNOWN"], ["UNSUPPORTED"])
    after = sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*"))
    assert [p for p in after if "uploads" not in p.parts and not p.name.startswith("registry.db")] == \
        [p for p in before if "uploads" not in p.parts and not p.name.startswith("registry.db")]


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
async def test_upload_id_under_another_repository_is_404_blob_upload_unknown(client, method):
    blob = random_blob()
    location = await start_upload(client, REPO)
    foreign = with_digest(location.replace(f"/v2/{REPO}/", "/v2/errors/other/"), blob.digest)
    response = await client.request(method, foreign, data=blob.data if method in ("PATCH", "PUT") else None)
    assert response.status == 404
    assert await error_codes(response) == ["BLOB_UPLOAD_UNKNOWN"]
    finished = await client.put(with_digest(location, blob.digest), data=blob.data)  # still usable
    assert finished.status == 201
    assert (await client.head(f"/v2/errors/other/blobs/{blob.digest}")).status == 404


async def test_manifest_naming_unknown_blobs_is_400_manifest_blob_unknown(client):
    config, layer = random_blob(), random_blob()
    await push_blob(client, REPO, config)
    await push_blob(client, "errors/elsewhere", layer)  # present, but not in this repository
    for content in (image(config, [layer]), image(random_blob(), [])):
        response = await put_manifest(client, REPO, "t", content)
        assert response.status == 400
        assert await error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"]
        assert (await client.head(f"/v2/{REPO}/manifests/{content.digest}")).status == 404


async def test_index_naming_an_unknown_manifest_is_400_manifest_blob_unknown(client):
    known = await push_image(client, REPO)
    unknown = image(random_blob(), [])
    response = await put_manifest(client, REPO, "idx", index([known, unknown]))
    assert response.status == 400
    assert await error_codes(response) == ["MANIFEST_BLOB_UNKNOWN"]
    assert (await client.head(f"/v2/{REPO}/manifests/idx")).status == 404


@pytest.mark.parametrize("body, content_type", [
    (b"not json at all", OCI_MANIFEST), (b"[]", OCI_MANIFEST), (b"", OCI_MANIFEST),
    (b'{"schemaVersion": 1, "config": {}, "layers": []}', OCI_MANIFEST),
    (b'{"schemaVersion": "2", "manifests": []}', OCI_INDEX),
    (b'{"schemaVersion": 2}', OCI_MANIFEST),
    (b'{"schemaVersion": 2, "mediaType": "%s", "manifests": []}' % OCI_INDEX.encode(), OCI_MANIFEST),
    (b'{"schemaVersion": 2, "config": {"mediaType": "x", "digest": "sha256:1", "size": 1}}', OCI_MANIFEST),
    (b'{"schemaVersion": 2, "manifests": [{"mediaType": "x", "digest": "sha256:%s", "size": -1}]}'
     % (b"0" * 64), OCI_INDEX),
    (b"[" * 100_000 + b"]" * 100_000, OCI_MANIFEST),
])
async def test_malformed_manifest_is_400_manifest_invalid(client, body, content_type):
    response = await client.put(f"/v2/{REPO}/manifests/t", data=body, headers={"Content-Type": content_type})
    assert response.status == 400
    assert await error_codes(response) == ["MANIFEST_INVALID"]


async def test_manifests_up_to_about_4_mb_are_accepted_and_larger_ones_are_413(client):
    config = random_blob()
    await push_blob(client, REPO, config)
    notes = {f"org.example.{i}": "x" * 10_000 for i in range(390)}
    large = image(config, [], annotations=notes)  # about 3.9 MB, as the conformance suite sends
    assert 3_900_000 < len(large.data) < 4 * 1024 * 1024
    assert (await put_manifest(client, REPO, "large", large)).status == 201
    pulled = await client.get(f"/v2/{REPO}/manifests/large")
    assert await pulled.read() == large.data

    too_large = image(config, [], annotations={**notes, "more": "x" * 300_000})
    assert len(too_large.data) > 4 * 1024 * 1024
    response = await put_manifest(client, REPO, "too-large", too_large)
    assert response.status == 413
    await error_codes(response)
    assert (await client.head(f"/v2/{REPO}/manifests/too-large")).status == 404


# -- chunk order: 416 with the upload's state, and the session stays usable -------------------------

async def assert_416_with_state(response, upload_path: str, last_byte: int) -> None:
    assert response.status == 416
    assert response.headers["Range"] == f"0-{last_byte}"
    assert response.headers["Location"] == upload_path
    await error_codes(response)


async def test_out_of_order_and_overlapping_chunks_are_416_and_the_upload_recovers(client):
    blob = random_blob(42)
    first, second = blob.data[:22], blob.data[22:]
    location = await start_upload(client, REPO)
    await assert_416_with_state(await patch_chunk(client, location, second, 22), location, 0)  # skip ahead
    accepted = await patch_chunk(client, location, first, 0)
    assert (accepted.status, accepted.headers["Range"]) == (202, "0-21")
    await assert_416_with_state(await patch_chunk(client, location, first, 0), location, 21)  # rewind
    await assert_416_with_state(await patch_chunk(client, location, blob.data[10:30], 10), location, 21)

    status = await client.get(location)
    assert (status.status, status.headers["Range"], status.headers["Location"]) == (204, "0-21", location)
    accepted = await patch_chunk(client, location, second, 22)
    assert (accepted.status, accepted.headers["Range"]) == (202, "0-41")
    finished = await client.put(with_digest(location, blob.digest))
    assert finished.status == 201
    assert await (await client.get(f"/v2/{REPO}/blobs/{blob.digest}")).read() == blob.data


async def test_closing_put_with_an_out_of_order_last_chunk_is_416(client):
    blob = random_blob(42)
    location = await start_upload(client, REPO)
    assert (await patch_chunk(client, location, blob.data[:22], 0)).status == 202
    response = await client.put(with_digest(location, blob.digest), data=blob.data[30:],
                                headers={"Content-Range": "30-41"})
    await assert_416_with_state(response, location, 21)
    response = await client.put(with_digest(location, blob.digest), data=blob.data[22:],
                                headers={"Content-Range": "22-41"})
    assert response.status == 201


@pytest.mark.parametrize("content_range", ["abc", "5-2", "0-", "bytes 0-1/x"])
async def test_malformed_content_range_is_rejected_without_harming_the_upload(client, content_range):
    location = await start_upload(client, REPO)
    response = await client.patch(location, data=b"xy", headers={"Content-Range": content_range})
    assert response.status in (400, 416)
    await error_codes(response)
    status = await client.get(location)
    assert (status.status, status.headers["Range"]) == (204, "0-0")


# -- endpoints that do not exist ------------------------------------------------------------------

@pytest.mark.parametrize("method, path, status", [
    ("GET", "/v2/no/such/endpoint", 404), ("GET", "/v2/repo/blobs", 404),
    ("POST", "/v2/repo/manifests/latest", 405), ("PATCH", "/v2/", 405)])
async def test_unknown_endpoints_answer_the_spec_json_with_the_api_version(client, method, path, status):
    response = await client.request(method, path)
    assert response.status == status
    assert response.headers[API_VERSION[0]] == API_VERSION[1]
    await error_codes(response)


async def test_errors_carry_the_api_version_header(client):
    response = await client.get(f"/v2/{REPO}/manifests/missing")
    assert response.status == 404
    assert response.headers[API_VERSION[0]] == API_VERSION[1]
    assert response.headers["Content-Type"].startswith("application/json")


ODD_REQUESTS = [
    ("GET", "/v2/_catalog?n=99999999999999999999"), ("GET", f"/v2/{REPO}/tags/list?n=&last="),
    ("GET", f"/v2/{REPO}/manifests/" + "a" * 1000), ("PUT", f"/v2/{REPO}/manifests/" + "a" * 200),
    ("GET", f"/v2/{REPO}/manifests/sha256:totallywrong"), ("DELETE", f"/v2/{REPO}/manifests/sha256:x"),
    ("GET", f"/v2/{REPO}/referrers/latest"), ("GET", f"/v2/{REPO}/blobs/uploads/"),
    ("POST", f"/v2/{REPO}/blobs/uploads/?mount=garbage&from=UPPER"), ("DELETE", f"/v2/{REPO}/blobs/x:y"),
    ("POST", f"/v2/{REPO}/blobs/uploads/?digest="), ("GET", f"/v2/{REPO}/manifests/%00"),
    ("HEAD", f"/v2/{REPO}/blobs/sha256:%ff"),
]


@pytest.mark.parametrize("method, url", ODD_REQUESTS)
async def test_odd_requests_never_cause_a_server_error(client, method, url):
    await push_image(client, REPO, "x")
    response = await client.request(method, url, data=json.dumps({"schemaVersion": 2}).encode())
    assert response.status < 500, await response.text()
    if response.status >= 400 and method != "HEAD":
        await error_codes(response)

