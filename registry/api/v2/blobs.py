"""Blob GET/HEAD/DELETE (distribution-spec "Pulling blobs", "Deleting blobs")."""

from __future__ import annotations

from aiohttp import web

from ... import errors, keys
from ...services import audit
from ...services.blobs import unlink_blob
from .access import actor, require
from .params import digest_param, repository_name


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
    if request.method == "HEAD":
        return web.Response(headers={**headers, "Content-Length": str(blob.size)})
    if blob.content is not None:  # a manifest fetched as a blob
        return web.Response(body=blob.content, headers=headers)
    content = None if "Range" in request.headers else pulls.small_blob(digest, blob.size)
    if content is not None:
        return web.Response(body=content, headers=headers)
    path = request.app[keys.blob_store].blob_path(digest)
    if path is None:
        raise errors.Unsupported("this blob store cannot serve blobs directly")
    # sendfile, with Range (206) and unsatisfiable ranges (416) handled by aiohttp.
    return web.FileResponse(path, headers=headers)


async def delete_blob(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "delete")
    digest = digest_param(request.match_info["digest"])
    async with request.app[keys.database].write() as session:
        if not await unlink_blob(session, name, digest):
            raise errors.BlobUnknown(detail={"digest": str(digest)})
        audit.record(session, actor(request), "delete", f"{name}@{digest}", request.remote or "")
    return web.Response(status=202)
