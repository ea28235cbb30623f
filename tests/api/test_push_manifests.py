"""Push manifests (distribution-spec "Pushing manifests"): images, indexes, artifacts, subjects and tags."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from .oci import (
    ALGORITHMS,
    DCD,
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_EMPTY,
    OCI_FOREIGN_LAYER,
    OCI_INDEX,
    OCI_MANIFEST,
    Content,
    artifact,
    image,
    index,
    manifest,
    push_artifact,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    random_blob,
)

REPO = "push/manifests"


async def pull(client, reference: str, repo: str = REPO):
    response = await client.get(f"/v2/{repo}/manifests/{reference}")
    assert response.status == 200, await response.text()
    return response


async def push_blobs(client, *blobs: Content) -> None:
    for blob in blobs:
        await push_blob(client, REPO, blob)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_push_image_by_digest_gives_201_location_and_digest(client, algorithm):
    config, layer = random_blob(algorithm=algorithm), random_blob(algorithm=algorithm)
    await push_blobs(client, config, layer)
    content = image(config, [layer], algorithm=algorithm)
    response = await put_manifest(client, REPO, content.digest, content)
    assert response.status == 201
    assert response.headers[DCD] == content.digest
    assert response.headers["Location"] == f"/v2/{REPO}/manifests/{content.digest}"
    pulled = await pull(client, content.digest)
    assert await pulled.read() == content.data


async def test_push_image_by_tag_is_pullable_by_tag_and_digest(client):
    config, layer = random_blob(), random_blob()
    await push_blobs(client, config, layer)
    content = image(config, [layer])
    response = await put_manifest(client, REPO, "latest", content)
    assert response.status == 201
    assert response.headers[DCD] == content.digest
    assert (await (await client.get(response.headers["Location"])).read()) == content.data
    for reference in ("latest", content.digest):
        assert await (await pull(client, reference)).read() == content.data


async def test_stored_bytes_are_returned_exactly(client):
    config, layer = random_blob(), random_blob()
    await push_blobs(client, config, layer)
    # Odd key order and whitespace: the registry must not re-serialise.
    layers, config_ = json.dumps(layer.descriptor()), json.dumps(config.descriptor())
    text = f'{{ "layers" : [{layers}],\n\t"config":{config_} , "schemaVersion":2,"mediaType":"{OCI_MANIFEST}"}}  \n'
    content = Content(text.encode(), OCI_MANIFEST)
    await push_manifest(client, REPO, "odd", content)
    assert await (await pull(client, "odd")).read() == content.data


async def test_content_type_is_returned_exactly_without_parameters(client):
    config, layer = random_blob(), random_blob()
    await push_blobs(client, config, layer)
    content = image(config, [layer])
    response = await client.put(f"/v2/{REPO}/manifests/typed", data=content.data,
                                headers={"Content-Type": OCI_MANIFEST + "; charset=utf-8"})
    assert response.status == 201
    pulled = await pull(client, "typed")
    assert pulled.headers["Content-Type"] == OCI_MANIFEST


async def test_manifest_without_media_type_field_is_served_as_the_pushed_content_type(client):
    config, layer = random_blob(), random_blob()
    await push_blobs(client, config, layer)
    content = manifest({"schemaVersion": 2, "config": config.descriptor(), "layers": []}, OCI_MANIFEST)
    await push_manifest(client, REPO, "bare", content)
    assert (await pull(client, "bare")).headers["Content-Type"] == OCI_MANIFEST


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_index_of_images_and_index_of_indexes(client, algorithm):
    children = [await push_image(client, REPO, algorithm=algorithm) for _ in range(2)]
    inner = index(children, platforms=[("linux", "amd64"), ("linux", "arm64")], algorithm=algorithm)
    await push_manifest(client, REPO, inner.digest, inner)
    outer = index([inner], algorithm=algorithm)
    await push_manifest(client, REPO, outer.digest, outer)
    for content in (inner, outer):
        pulled = await pull(client, content.digest)
        assert pulled.headers["Content-Type"] == OCI_INDEX
        assert pulled.headers[DCD] == content.digest
        assert await pulled.read() == content.data


async def test_empty_index_and_image_without_layers(client):
    empty = index([])
    await push_manifest(client, REPO, "empty-index", empty)
    config = Content(b"{}")
    await push_blobs(client, config)
    no_layers = image(config, [], config_type=OCI_EMPTY)
    await push_manifest(client, REPO, "no-layers", no_layers)
    assert await (await pull(client, "empty-index")).read() == empty.data
    assert await (await pull(client, "no-layers")).read() == no_layers.data


async def test_data_field_and_unknown_fields_are_kept(client):
    config = Content(b'{"newUnspecifiedField":"x"}')
    await push_blobs(client, config)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "newUnspecifiedField": [1, 2],
           "config": config.descriptor(OCI_EMPTY, data=base64.b64encode(config.data).decode(),
                                       newUnspecifiedField="y"),
           "layers": []}
    content = manifest(doc, OCI_MANIFEST)
    await push_manifest(client, REPO, "custom", content)
    assert await (await pull(client, "custom")).read() == content.data


async def test_non_distributable_layers_that_were_never_pushed_are_accepted(client):
    config = random_blob()
    await push_blobs(client, config)
    foreign = [random_blob(), random_blob()]  # never pushed
    layers = [layer.descriptor(OCI_FOREIGN_LAYER, urls=["https://example.com/layer"]) for layer in foreign]
    content = manifest({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
                        "layers": layers}, OCI_MANIFEST)
    response = await put_manifest(client, REPO, "foreign", content)
    assert response.status == 201, await response.text()


async def test_artifact_with_missing_subject_is_accepted_and_oci_subject_returned(client):
    subject = image(random_blob(), [random_blob()])  # never pushed
    content, config, layer = artifact("application/vnd.example.sbom", subject)
    await push_blobs(client, config, layer)
    response = await put_manifest(client, REPO, content.digest, content)
    assert response.status == 201, await response.text()
    assert response.headers["OCI-Subject"] == subject.digest


async def test_manifest_without_subject_has_no_oci_subject_header(client):
    config = random_blob()
    await push_blobs(client, config)
    response = await put_manifest(client, REPO, "plain", image(config, []))
    assert response.status == 201
    assert "OCI-Subject" not in response.headers


async def test_artifact_with_pushed_subject_returns_oci_subject(client):
    subject = await push_image(client, REPO, "base")
    content = await push_artifact(client, REPO, "application/vnd.example.sig", subject)
    assert await (await pull(client, content.digest)).read() == content.data


@pytest.mark.parametrize("algorithm", ALGORITHMS)
async def test_tag_params_on_push_by_digest_create_every_tag(client, algorithm):
    config = random_blob(algorithm=algorithm)
    await push_blobs(client, config)
    content = image(config, [], algorithm=algorithm)
    response = await put_manifest(client, REPO, content.digest, content, tags=("a", "b"))
    assert response.status == 201
    assert response.headers.getall("OCI-Tag") == ["a", "b"]
    for tag in ("a", "b"):  # the tag names the content by the digest it was pushed with
        assert (await pull(client, tag)).headers[DCD] == content.digest
    tags = await (await client.get(f"/v2/{REPO}/tags/list")).json()
    assert tags["tags"] == ["a", "b"]


async def test_the_same_manifest_under_several_tags(client):
    config = random_blob()
    await push_blobs(client, config)
    content = image(config, [])
    for tag in ("test0", "test1", "test2", "test3"):
        response = await put_manifest(client, REPO, tag, content)
        assert response.status == 201
    tags = await (await client.get(f"/v2/{REPO}/tags/list")).json()
    assert tags == {"name": REPO, "tags": ["test0", "test1", "test2", "test3"]}


async def test_pushing_a_tag_again_moves_it(client):
    first = await push_image(client, REPO, "moving")
    assert (await pull(client, "moving")).headers[DCD] == first.digest
    second = await push_image(client, REPO, "moving")
    pulled = await pull(client, "moving")
    assert pulled.headers[DCD] == second.digest != first.digest
    assert (await pull(client, first.digest)).status == 200  # the old manifest stays by digest


async def test_docker_schema2_manifest_and_manifest_list(client):
    config, layer = Content(b'{"os":"linux"}'), random_blob()
    await push_blobs(client, config, layer)
    docker_image = image(config, [layer], media_type=DOCKER_MANIFEST, config_type=DOCKER_CONFIG,
                         layer_type=DOCKER_LAYER)
    await push_manifest(client, REPO, "docker", docker_image)
    docker_list = index([docker_image], platforms=[("linux", "amd64")], media_type=DOCKER_LIST)
    await push_manifest(client, REPO, "docker-list", docker_list)
    for tag, content in (("docker", docker_image), ("docker-list", docker_list)):
        pulled = await client.get(f"/v2/{REPO}/manifests/{tag}", headers={"Accept": content.media_type})
        assert pulled.headers["Content-Type"] == content.media_type
        assert await pulled.read() == content.data


async def test_manifests_are_visible_only_in_their_repository(client):
    pushed = await push_image(client, REPO, "here")
    assert (await client.get(f"/v2/push/elsewhere/manifests/{pushed.digest}")).status == 404


async def test_concurrent_pushes_of_one_tag_leave_one_winner(client):
    config = random_blob()
    await push_blobs(client, config)
    contents = [image(config, [], annotations={"n": str(i)}) for i in range(20)]
    responses = await asyncio.gather(*(put_manifest(client, REPO, "race", c) for c in contents))
    assert [r.status for r in responses] == [201] * 20
    winner = (await pull(client, "race")).headers[DCD]
    assert winner in {c.digest for c in contents}
    tags = await (await client.get(f"/v2/{REPO}/tags/list")).json()
    assert tags["tags"] == ["race"]
