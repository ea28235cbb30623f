"""Pull (distribution-spec "Pulling manifests", "Pulling blobs"): GET, HEAD, ranges, content negotiation."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from .oci import (
    ALGORITHMS,
    DCD,
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Content,
    error_codes,
    image,
    index,
    push_blob,
    push_image,
    push_manifest,
    random_blob,
)

REPO = "pull/repo"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"


@pytest.mark.parametrize("size", [512, 300_000])  # served from memory, and sent from a file
@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_blob_head_and_get_return_size_digest_and_exact_bytes(client, algorithm, size):
    blob = random_blob(size, algorithm)
    await push_blob(client, REPO, blob)

    head = await client.head(f"/v2/{REPO}/blobs/{blob.digest}")
    assert head.status == 200
    assert head.headers["Content-Length"] == str(size)
    assert head.headers[DCD] == blob.digest
    assert await head.read() == b""

    get = await client.get(f"/v2/{REPO}/blobs/{blob.digest}")
    assert get.status == 200
    assert get.headers["Content-Length"] == str(size)
    assert get.headers[DCD] == blob.digest
    assert await get.read() == blob.data


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_empty_blob_has_content_length_zero(client, algorithm):
    blob = Content(b"", algorithm=algorithm)
    await push_blob(client, REPO, blob)

    head = await client.head(f"/v2/{REPO}/blobs/{blob.digest}")
    assert head.status == 200
    assert head.headers["Content-Length"] == "0"
    assert head.headers[DCD] == blob.digest
    get = await client.get(f"/v2/{REPO}/blobs/{blob.digest}")
    assert get.status == 200
    assert await get.read() == b""


@pytest.mark.parametrize("size", [512, 300_000])
async def test_blob_range_get_returns_206_with_exact_content_range(client, size):
    blob = random_blob(size)
    await push_blob(client, REPO, blob)
    url = f"/v2/{REPO}/blobs/{blob.digest}"

    middle = await client.get(url, headers={"Range": "bytes=10-19"})
    assert middle.status == 206
    assert middle.headers["Content-Range"] == f"bytes 10-19/{size}"
    assert await middle.read() == blob.data[10:20]

    suffix = await client.get(url, headers={"Range": "bytes=-8"})
    assert suffix.status == 206
    assert suffix.headers["Content-Range"] == f"bytes {size - 8}-{size - 1}/{size}"
    assert await suffix.read() == blob.data[-8:]


async def test_unsatisfiable_blob_range_is_416(client):
    blob = random_blob(512)
    await push_blob(client, REPO, blob)
    response = await client.get(f"/v2/{REPO}/blobs/{blob.digest}", headers={"Range": "bytes=600-700"})
    assert response.status == 416
    assert response.headers["Content-Range"] == "bytes */512"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_missing_blob_is_404_blob_unknown(client, algorithm):
    await push_blob(client, REPO, random_blob())
    response = await client.get(f"/v2/{REPO}/blobs/{random_blob(algorithm=algorithm).digest}")
    assert response.status == 404
    assert await error_codes(response) == ["BLOB_UNKNOWN"]
    head = await client.head(f"/v2/{REPO}/blobs/{random_blob(algorithm=algorithm).digest}")
    assert head.status == 404


async def test_blob_is_readable_only_in_the_repository_it_was_pushed_to(client):
    blob = random_blob()
    await push_blob(client, "pull/a", blob)
    response = await client.get(f"/v2/pull/b/blobs/{blob.digest}")
    assert response.status == 404


async def test_manifest_get_and_head_by_tag_and_digest(client):
    pushed = await push_image(client, REPO, "v1")
    for reference in ("v1", pushed.digest):
        get = await client.get(f"/v2/{REPO}/manifests/{reference}",
                               headers=CIMultiDict([("Accept", OCI_INDEX), ("Accept", OCI_MANIFEST)]))
        assert get.status == 200
        assert await get.read() == pushed.data
        assert get.headers["Content-Type"] == OCI_MANIFEST
        assert get.headers["Content-Length"] == str(len(pushed.data))
        assert get.headers[DCD] == pushed.digest

        head = await client.head(f"/v2/{REPO}/manifests/{reference}")
        assert head.status == 200
        assert await head.read() == b""
        assert head.headers["Content-Type"] == OCI_MANIFEST
        assert head.headers["Content-Length"] == str(len(pushed.data))
        assert head.headers[DCD] == pushed.digest


async def test_sha512_manifest_pushed_by_digest_is_served_with_its_sha512_digest(client):
    pushed = await push_image(client, REPO, algorithm="sha512")
    assert pushed.digest.startswith("sha512:")
    response = await client.get(f"/v2/{REPO}/manifests/{pushed.digest}")
    assert response.status == 200
    assert response.headers[DCD] == pushed.digest
    assert await response.read() == pushed.data


async def test_manifest_without_accept_header_is_served_as_stored(client):
    pushed = await push_image(client, REPO, "plain")
    response = await client.get(f"/v2/{REPO}/manifests/plain", headers={"Accept": "*/*"})
    assert response.status == 200
    assert await response.read() == pushed.data


@pytest.mark.parametrize("reference", [
    "sha256:" + "0" * 64, "missing-abcdefghijklmnopqrst", ".INVALID_MANIFEST_NAME"])
async def test_missing_manifest_is_404(client, reference):
    await push_image(client, REPO, "present")
    for method in ("GET", "HEAD"):
        response = await client.request(method, f"/v2/{REPO}/manifests/{reference}")
        assert response.status == 404
    assert await error_codes(await client.get(f"/v2/{REPO}/manifests/{reference}")) == ["MANIFEST_UNKNOWN"]


async def test_pull_from_repository_that_does_not_exist_is_404(client):
    response = await client.get("/v2/no/such/repo/manifests/latest")
    assert response.status == 404
    response = await client.get(f"/v2/no/such/repo/blobs/{random_blob().digest}")
    assert response.status == 404


# -- content negotiation: Docker clients that do not understand manifest lists ---------------------

async def _push_docker_list(client) -> tuple[Content, Content, Content]:
    """A Docker manifest list of a linux/arm64 and a linux/amd64 image (amd64 second on purpose)."""
    children = []
    for arch in ("arm64", "amd64"):
        config = Content(f'{{"architecture":"{arch}","os":"linux"}}'.encode())
        layer = random_blob()
        await push_blob(client, REPO, config)
        await push_blob(client, REPO, layer)
        child = image(config, [layer], media_type=DOCKER_MANIFEST, config_type=DOCKER_CONFIG,
                      layer_type=DOCKER_LAYER)
        await push_manifest(client, REPO, child.digest, child)
        children.append(child)
    manifest_list = index(children, platforms=[("linux", "arm64"), ("linux", "amd64")],
                          media_type=DOCKER_LIST)
    await push_manifest(client, REPO, "multi", manifest_list)
    return manifest_list, children[0], children[1]


async def test_docker_list_by_tag_with_only_image_types_accepted_gives_linux_amd64(client):
    manifest_list, _arm64, amd64 = await _push_docker_list(client)
    # As Go clients send it: one Accept line per media type.
    accept = CIMultiDict([("Accept", DOCKER_MANIFEST), ("Accept", DOCKER_SCHEMA1_SIGNED),
                          ("Accept", "application/json")])
    response = await client.get(f"/v2/{REPO}/manifests/multi", headers=accept)
    assert response.status == 200
    assert response.headers["Content-Type"] == DOCKER_MANIFEST
    assert response.headers[DCD] == amd64.digest
    assert await response.read() == amd64.data


@pytest.mark.parametrize("accept", [[DOCKER_MANIFEST, DOCKER_LIST], [DOCKER_LIST], [OCI_INDEX, DOCKER_LIST]])
async def test_docker_list_with_list_type_accepted_is_served_as_list(client, accept):
    manifest_list, *_ = await _push_docker_list(client)
    response = await client.get(f"/v2/{REPO}/manifests/multi",
                                headers=CIMultiDict(("Accept", a) for a in accept))
    assert response.status == 200
    assert response.headers["Content-Type"] == DOCKER_LIST
    assert response.headers[DCD] == manifest_list.digest
    assert await response.read() == manifest_list.data


async def test_docker_list_by_digest_is_always_the_list(client):
    manifest_list, *_ = await _push_docker_list(client)
    response = await client.get(f"/v2/{REPO}/manifests/{manifest_list.digest}",
                                headers={"Accept": DOCKER_MANIFEST})
    assert response.status == 200
    assert await response.read() == manifest_list.data


async def test_oci_index_by_tag_with_only_image_manifest_accepted_gives_linux_amd64(client):
    amd64 = await push_image(client, REPO)
    arm64 = await push_image(client, REPO)
    await push_manifest(client, REPO, "oci-multi",
                        index([arm64, amd64], platforms=[("linux", "arm64"), ("linux", "amd64")]))
    response = await client.get(f"/v2/{REPO}/manifests/oci-multi", headers={"Accept": OCI_MANIFEST})
    assert response.status == 200
    assert response.headers[DCD] == amd64.digest
    assert response.headers["Content-Type"] == OCI_MANIFEST
