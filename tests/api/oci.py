"""Test helpers for the OCI workflows: random blobs, manifests and indexes, and each way a client pushes.

Media types are spelled out here rather than imported from registry.oci, so that a typo in the server's
constants shows up as a failing test instead of agreeing with itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from yarl import URL

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_FOREIGN_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DCD = "Docker-Content-Digest"
ALGORITHMS = ("sha256", "sha512")


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


@dataclass(frozen=True)
class Content:
    """Bytes addressed by digest: a blob, or a manifest with the media type it is pushed as."""
    data: bytes
    media_type: str = "application/octet-stream"
    algorithm: str = "sha256"

    @property
    def digest(self) -> str:
        return digest_of(self.data, self.algorithm)

    def descriptor(self, media_type: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"mediaType": media_type or self.media_type, "digest": self.digest,
                "size": len(self.data), **extra}


def random_blob(size: int = 512, algorithm: str = "sha256") -> Content:
    return Content(os.urandom(size), algorithm=algorithm)


def manifest(doc: dict[str, Any], media_type: str, algorithm: str = "sha256") -> Content:
    return Content(json.dumps(doc, indent=2).encode(), media_type, algorithm)


def image(config: Content, layers: list[Content], *, media_type: str = OCI_MANIFEST,
          config_type: str = OCI_CONFIG, layer_type: str = OCI_LAYER, algorithm: str = "sha256",
          **fields: Any) -> Content:
    """An image manifest; `fields` adds top-level fields such as artifactType, subject, annotations."""
    doc = {"schemaVersion": 2, "mediaType": media_type, "config": config.descriptor(config_type),
           "layers": [layer.descriptor(layer_type) for layer in layers], **fields}
    return manifest(doc, media_type, algorithm)


def index(children: list[Content], *, platforms: list[tuple[str, str]] | None = None,
          media_type: str = OCI_INDEX, algorithm: str = "sha256", **fields: Any) -> Content:
    descriptors = [child.descriptor() for child in children]
    for descriptor, (os_, arch) in zip(descriptors, platforms or [], strict=False):
        descriptor["platform"] = {"os": os_, "architecture": arch}
    doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": descriptors, **fields}
    return manifest(doc, media_type, algorithm)


def artifact(artifact_type: str, subject: Content | None = None,
             **fields: Any) -> tuple[Content, Content, Content]:
    """(manifest, config, layer) of an artifact with the empty-JSON config, optionally naming a subject."""
    config, layer = Content(b"{}", algorithm="sha256"), random_blob(64)
    if subject is not None:
        fields["subject"] = subject.descriptor()
    return image(config, [layer], config_type=OCI_EMPTY, layer_type="application/octet-stream",
                 artifactType=artifact_type, **fields), config, layer


# -- pushing blobs, one function per method of the spec's "Pushing blobs" -------------------------

def with_digest(location: str, digest: str) -> str:
    """The Location with ?digest= merged into whatever query it already has (as the suite does)."""
    return str(URL(location).update_query(digest=digest))


async def start_upload(client: TestClient, repo: str) -> str:
    response = await client.post(f"/v2/{repo}/blobs/uploads/")
    assert response.status == 202, await response.text()
    return response.headers["Location"]


async def push_monolithic(client: TestClient, repo: str, blob: Content) -> ClientResponse:
    return await client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": blob.digest}, data=blob.data,
                             headers={"Content-Type": "application/octet-stream"})


async def push_post_put(client: TestClient, repo: str, blob: Content) -> ClientResponse:
    location = await start_upload(client, repo)
    return await client.put(with_digest(location, blob.digest), data=blob.data,
                            headers={"Content-Type": "application/octet-stream"})


async def patch_chunk(client: TestClient, location: str, data: bytes, start: int | None) -> ClientResponse:
    """PATCH one chunk, with `Content-Range: start-end` unless `start` is None (a streamed upload)."""
    headers = {"Content-Type": "application/octet-stream"}
    if start is not None:
        headers["Content-Range"] = f"{start}-{start + len(data) - 1}"
    return await client.patch(location, data=data, headers=headers)


async def push_chunked(client: TestClient, repo: str, blob: Content, chunk_size: int = 1024,
                       last_in_put: bool = False) -> ClientResponse:
    """PATCH chunks with Content-Range, then close with PUT; `last_in_put` sends the last chunk in the PUT."""
    location = await start_upload(client, repo)
    starts = list(range(0, len(blob.data), chunk_size))
    for start in starts[:-1] if last_in_put else starts:
        response = await patch_chunk(client, location, blob.data[start:start + chunk_size], start)
        assert response.status == 202, await response.text()
        assert response.headers["Range"] == f"0-{min(start + chunk_size, len(blob.data)) - 1}"
        location = response.headers["Location"]
    if not last_in_put:
        return await client.put(with_digest(location, blob.digest))
    start = starts[-1]
    last = blob.data[start:]
    return await client.put(with_digest(location, blob.digest), data=last, headers={
        "Content-Type": "application/octet-stream", "Content-Range": f"{start}-{start + len(last) - 1}"})


async def push_chunked_last_in_put(client: TestClient, repo: str, blob: Content) -> ClientResponse:
    return await push_chunked(client, repo, blob, chunk_size=len(blob.data) // 3 + 1, last_in_put=True)


async def push_streamed(client: TestClient, repo: str, blob: Content) -> ClientResponse:
    location = await start_upload(client, repo)
    response = await patch_chunk(client, location, blob.data, None)
    assert response.status == 202, await response.text()
    return await client.put(with_digest(response.headers["Location"], blob.digest))


PUSH_METHODS = {"monolithic": push_monolithic, "post-put": push_post_put, "chunked": push_chunked,
                "chunked-last-in-put": push_chunked_last_in_put, "streamed": push_streamed}


async def push_blob(client: TestClient, repo: str, blob: Content) -> None:
    response = await push_post_put(client, repo, blob)
    assert response.status == 201, await response.text()


# -- manifests -------------------------------------------------------------------------------------

async def put_manifest(client: TestClient, repo: str, reference: str, content: Content,
                       tags: tuple[str, ...] = ()) -> ClientResponse:
    """PUT a manifest; `tags` go as `?tag=` parameters (distribution-spec main: "Pushing manifests")."""
    return await client.put(f"/v2/{repo}/manifests/{reference}", data=content.data,
                            params=[("tag", tag) for tag in tags] or None,
                            headers={"Content-Type": content.media_type})


async def push_manifest(client: TestClient, repo: str, reference: str, content: Content) -> None:
    response = await put_manifest(client, repo, reference, content)
    assert response.status == 201, await response.text()


async def push_image(client: TestClient, repo: str, reference: str | None = None, algorithm: str = "sha256",
                     **fields: Any) -> Content:
    """Push a config, one layer and their manifest (by `reference`, else by digest); return the manifest."""
    config, layer = Content(b'{"architecture":"amd64","os":"linux"}', algorithm=algorithm), random_blob(
        256, algorithm)
    for blob in (config, layer):
        await push_blob(client, repo, blob)
    content = image(config, [layer], algorithm=algorithm, **fields)
    await push_manifest(client, repo, reference or content.digest, content)
    return content


async def push_artifact(client: TestClient, repo: str, artifact_type: str, subject: Content | None = None,
                        **fields: Any) -> Content:
    content, *blobs = artifact(artifact_type, subject, **fields)
    for blob in blobs:
        await push_blob(client, repo, blob)
    await push_manifest(client, repo, content.digest, content)
    return content


async def error_codes(response: ClientResponse) -> list[str]:
    """The codes of the spec's error body; fails the test when the body is not that shape."""
    body = await response.json()
    assert isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"], body
    for entry in body["errors"]:
        assert set(entry) <= {"code", "message", "detail"}, entry
        assert isinstance(entry["code"], str) and entry["code"].replace("_", "").isalpha(), entry
        assert entry["code"] == entry["code"].upper(), entry
        assert isinstance(entry.get("message", ""), str), entry
    return [entry["code"] for entry in body["errors"]]
