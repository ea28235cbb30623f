"""Blob uploads (distribution-spec "Pushing blobs"): start, mount, chunks, status, close, cancel."""

from __future__ import annotations

from aiohttp import web

from ... import errors, keys
from ...oci.digest import Digest, InvalidDigest
from ...oci.reference import is_valid_name
from ...services.blobs import mount_blob
from ...services.uploads import UploadState
from .access import may, require
from .params import blob_url, body_chunks, content_range, digest_param, repository_name, upload_id_param, upload_url


def _upload_headers(state: UploadState) -> dict[str, str]:
    return {"Location": upload_url(state.repository, state.id), "Range": f"0-{max(state.size - 1, 0)}",
            "Docker-Upload-UUID": state.id}


def _created(name: str, digest: Digest) -> web.Response:
    return web.Response(status=201, headers={"Location": blob_url(name, digest),
                                             "Docker-Content-Digest": str(digest)})


async def start_upload(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "push")
    query = request.query
    uploads = request.app[keys.uploads]
    if "mount" in query:
        mounted = await _mount(request, name, query["mount"], query.get("from", ""))
        if mounted:
            return _created(name, mounted)
    elif "digest" in query:  # monolithic upload: the whole blob in this one request
        digest = digest_param(query["digest"])
        state = await uploads.start(name)
        await uploads.finish(name, state.id, digest, body_chunks(request))
        return _created(name, digest)
    state = await uploads.start(name)
    return web.Response(status=202, headers=_upload_headers(state))


async def _mount(request: web.Request, name: str, digest_text: str, source: str) -> Digest | None:
    """Mount from `source` when it can read the blob. Anything less falls back to an upload (202)."""
    try:
        digest = Digest.parse(digest_text)
    except InvalidDigest:
        return None
    if not is_valid_name(source) or not await may(request, source, "pull"):
        return None  # a source the caller may not read is one we know nothing about
    async with request.app[keys.database].write() as session:
        return digest if await mount_blob(session, name, source, digest) else None


async def upload_status(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "push")
    state = await request.app[keys.uploads].status(name, upload_id_param(request))
    return web.Response(status=204, headers=_upload_headers(state))


async def append_chunk(request: web.Request) -> web.Response:
    name, upload_id = repository_name(request), upload_id_param(request)
    await require(request, name, "push")
    uploads = request.app[keys.uploads]
    try:
        start, length = content_range(request)
        state = await uploads.append(name, upload_id, body_chunks(request), start, length)
    except errors.RangeNotSatisfiable as exc:
        raise await _with_upload_state(request, name, upload_id, exc) from None
    return web.Response(status=202, headers=_upload_headers(state))


async def finish_upload(request: web.Request) -> web.Response:
    name, upload_id = repository_name(request), upload_id_param(request)
    await require(request, name, "push")
    digest = digest_param(request.query.get("digest"))
    uploads = request.app[keys.uploads]
    try:
        start, length = content_range(request)
        chunks = body_chunks(request) if request.body_exists else None
        await uploads.finish(name, upload_id, digest, chunks, start, length)
    except errors.RangeNotSatisfiable as exc:
        raise await _with_upload_state(request, name, upload_id, exc) from None
    return _created(name, digest)


async def _with_upload_state(request: web.Request, name: str, upload_id: str,
                             exc: errors.RegistryError) -> errors.RegistryError:
    """A 416 tells the client where the upload stands, so that it can resume (spec "Chunked upload")."""
    state = await request.app[keys.uploads].status(name, upload_id)
    exc.headers.update(_upload_headers(state))
    return exc


async def cancel_upload(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "push")
    await request.app[keys.uploads].cancel(name, upload_id_param(request))
    return web.Response(status=204)
