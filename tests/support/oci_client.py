"""A small OCI push/pull client on aiohttp, for tests that need to control timing and streaming."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator

import aiohttp

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class PushFailed(AssertionError):
    pass


async def _expect(response: aiohttp.ClientResponse, status: int) -> aiohttp.ClientResponse:
    if response.status != status:
        raise PushFailed(f"{response.method} {response.url} -> {response.status}: {await response.text()}")
    return response


async def push_blob_streamed(session: aiohttp.ClientSession, base: str, repo: str,
                             chunks: AsyncIterator[bytes], digest: str) -> None:
    """POST, one PATCH streaming `chunks` (Transfer-Encoding: chunked, as docker does), PUT ?digest=."""
    async with session.post(f"{base}/v2/{repo}/blobs/uploads/") as started:
        location = (await _expect(started, 202)).headers["Location"]
    async with session.patch(base + location, data=chunks) as patched:
        location = (await _expect(patched, 202)).headers["Location"]
    async with session.put(base + location, params={"digest": digest}) as closed:
        await _expect(closed, 201)


async def push_blob_chunked(session: aiohttp.ClientSession, base: str, repo: str, data: bytes,
                            chunk_size: int) -> str:
    """POST, PATCHes with Content-Range, PUT ?digest=; returns the digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    async with session.post(f"{base}/v2/{repo}/blobs/uploads/") as started:
        location = (await _expect(started, 202)).headers["Location"]
    for start in range(0, len(data), chunk_size):
        chunk = data[start:start + chunk_size]
        headers = {"Content-Range": f"{start}-{start + len(chunk) - 1}", "Content-Type": "application/octet-stream"}
        async with session.patch(base + location, data=chunk, headers=headers) as patched:
            location = (await _expect(patched, 202)).headers["Location"]
    async with session.put(base + location, params={"digest": digest}) as closed:
        await _expect(closed, 201)
    return digest


def image_manifest(config: bytes, layers: list[bytes]) -> bytes:
    def descriptor(data: bytes, media_type: str) -> dict[str, object]:
        return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": descriptor(config, "application/vnd.oci.image.config.v1+json"),
                       "layers": [descriptor(layer, "application/vnd.oci.image.layer.v1.tar") for layer in layers]},
                      ).encode()


async def push_manifest(session: aiohttp.ClientSession, base: str, repo: str, reference: str, body: bytes) -> str:
    async with session.put(f"{base}/v2/{repo}/manifests/{reference}", data=body,
                           headers={"Content-Type": OCI_MANIFEST}) as response:
        return (await _expect(response, 201)).headers["Docker-Content-Digest"]


async def blob_sha256(session: aiohttp.ClientSession, base: str, repo: str, digest: str) -> tuple[int, str | None]:
    """(status, sha256 of the body streamed in 1 MiB pieces, or None when not 200)."""
    async with session.get(f"{base}/v2/{repo}/blobs/{digest}") as response:
        if response.status != 200:
            return response.status, None
        hasher = hashlib.sha256()
        async for chunk in response.content.iter_chunked(1 << 20):
            hasher.update(chunk)
        return 200, "sha256:" + hasher.hexdigest()
