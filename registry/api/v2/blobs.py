"""Blob GET/HEAD/DELETE (distribution-spec "Pulling blobs", "Deleting blobs")."""

from __future__ import annotations

import re
from contextlib import aclosing

from aiohttp import web

from ... import errors, keys
from ...oci.digest import Digest
from ...services import audit
from ...services.blobs import unlink_blob
from ...services.pulls import BlobInfo
from ...storage import BlobStore
from .access import actor, require
from .params import digest_param, repository_name

_RANGE = re.compile(r"bytes=(\d{0,19})-(\d{0,19})")


async def get_blob(request: web.Request) -> web.StreamResponse:
    name = repository_name(request)
    await require(request, name, "pull")
    digest = digest_param(request.match_info["digest"])
    pulls = request.app[keys.pulls]
    blob = await pulls.blob(name, digest)
    if blob is None:
        raise errors.BlobUnknown(detail={"digest": str(digest)})
    headers = {"Docker-Content-Digest": str(digest), "Content-Type": "application/octet-stream",
               "Cache-Control": "max-age=31536000, immutable"}
    if request.method == "HEAD":  # from the database alone, whatever the store
        return web.Response(headers={**headers, "Content-Length": str(blob.size)})
    if blob.content is not None:  # a manifest fetched as a blob
        return web.Response(body=blob.content, headers=headers)
    content = None if "Range" in request.headers else pulls.small_blob(digest, blob.size)
    if content is not None:
        return web.Response(body=content, headers=headers)
    store = request.app[keys.blob_store]
    path = store.blob_path(digest)
    if path is not None:
        # sendfile, with Range (206) and unsatisfiable ranges (416) handled by aiohttp.
        return web.FileResponse(path, headers=headers)
    url = await store.blob_url(digest, location=blob.location)
    if url is not None:  # the client fetches the bytes from the store itself (S3, presigned)
        return web.Response(status=307, headers={"Location": url, "Docker-Content-Digest": str(digest)})
    return await _stream(request, store, digest, blob, headers)


async def _stream(request: web.Request, store: BlobStore, digest: Digest, blob: BlobInfo,
                  headers: dict[str, str]) -> web.StreamResponse:
    """The bytes through us, a Range (one, RFC 9110 14.2) answered with 206, an unsatisfiable one with 416."""
    size = blob.size
    wanted = byte_range(request.headers.get("Range"), size)
    if wanted is None:
        return web.Response(status=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = wanted
    status = 200 if (start, end) == (0, size) and "Range" not in request.headers else 206
    if status == 206:
        headers = {**headers, "Content-Range": f"bytes {start}-{end - 1}/{size}"}
    async with aclosing(store.read_blob(digest, start, end, location=blob.location)) as chunks:
        try:
            first = await anext(chunks, b"")  # before the status line: a blob the store lost is a 404
        except FileNotFoundError:
            raise errors.BlobUnknown("the store lost this blob's bytes", detail={"digest": str(digest)}) from None
        response = web.StreamResponse(status=status, headers={**headers, "Accept-Ranges": "bytes"})
        response.content_length = end - start
        await response.prepare(request)
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    await response.write_eof()
    return response


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) a Range header asks of `size` bytes; the whole for none, a malformed or a multi-range
    header (which a server may ignore); None when unsatisfiable."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or not (match[1] or match[2]):
        return 0, size
    if not match[1]:  # a suffix: the last n bytes
        suffix = int(match[2])
        return (max(size - suffix, 0), size) if suffix else None
    start = int(match[1])
    end = min(int(match[2]) + 1, size) if match[2] else size
    if match[2] and int(match[2]) < start:
        return 0, size  # malformed: ignored
    return (start, end) if start < size else None


async def delete_blob(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "delete")
    digest = digest_param(request.match_info["digest"])
    async with request.app[keys.database].write() as session:
        if not await unlink_blob(session, name, digest):
            raise errors.BlobUnknown(detail={"digest": str(digest)})
        audit.record(session, actor(request), "delete", f"{name}@{digest}", request.remote or "")
    return web.Response(status=202)
