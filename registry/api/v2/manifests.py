"""Manifests, tags and referrers (distribution-spec "Pulling/Pushing manifests", "Content discovery")."""

from __future__ import annotations

import json

from aiohttp import web

from ... import errors, keys
from ...oci import mediatypes as mt
from ...oci.manifest import MAX_MANIFEST_BYTES
from ...services import audit, manifests
from ..hub import webhooks
from .access import actor, require
from .params import MAX_PAGE, digest_param, manifest_url, next_link, page, read_limited, repository_name


def _accepted_types(request: web.Request) -> set[str]:
    # Go clients send one Accept line per type (docker in random order); others one comma-joined line.
    return {part.split(";", 1)[0].strip().lower()
            for line in request.headers.getall("Accept", ()) for part in line.split(",")}


async def get_manifest(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "pull")
    reference = manifests.parse_reference(request.match_info["reference"])
    found = await request.app[keys.pulls].manifest(name, reference, _accepted_types(request),
                                                   count=request.method == "GET")
    return web.Response(body=found.content, headers={
        "Content-Type": found.media_type, "Docker-Content-Digest": found.digest, "ETag": f'"{found.digest}"'})


async def put_manifest(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "push")
    reference = manifests.parse_reference(request.match_info["reference"], bad_tag=errors.ManifestInvalid)
    body = await read_limited(request, MAX_MANIFEST_BYTES, errors.ManifestTooLarge)
    extra_tags = request.query.getall("tag", [])
    async with request.app[keys.database].write() as session:
        pushed = await manifests.put_manifest(session, request.app[keys.blob_store], name, reference, body,
                                              request.headers.get("Content-Type"), extra_tags)
        audit.record(session, actor(request), "push", f"{name}@{pushed.digest}", request.remote or "",
                     tags=list(pushed.tags))
        await webhooks.enqueue_push(request, session, name, pushed.tags, actor(request))
    response = web.Response(status=201, headers={"Location": manifest_url(name, pushed.digest),
                                                 "Docker-Content-Digest": str(pushed.digest)})
    if pushed.subject:
        response.headers["OCI-Subject"] = str(pushed.subject)
    for tag in extra_tags:
        response.headers.add("OCI-Tag", tag)
    return response


async def delete_manifest(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "delete")
    reference = manifests.parse_reference(request.match_info["reference"])
    async with request.app[keys.database].write() as session:
        await manifests.delete_manifest(session, name, reference)
        audit.record(session, actor(request), "delete", f"{name}:{reference}" if isinstance(reference, str)
                     else f"{name}@{reference}", request.remote or "")
    return web.Response(status=202)


async def list_tags(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "pull")
    n, last = page(request)
    limit = MAX_PAGE if n is None else n
    async with request.app[keys.database].read() as session:
        tags = await manifests.list_tags(session, name, limit + 1, last)
    headers = {}
    if len(tags) > limit:
        tags = tags[:limit]
        if tags:
            headers["Link"] = next_link(request, limit, tags[-1])
    return web.json_response({"name": name, "tags": tags}, headers=headers)


async def list_referrers(request: web.Request) -> web.Response:
    name = repository_name(request)
    await require(request, name, "pull")
    subject = digest_param(request.match_info["digest"])
    artifact_type = request.query.get("artifactType")
    descriptors: list[dict[str, object]] = []
    if not (artifact_type and "\0" in artifact_type):  # a type with a NUL matches none (PostgreSQL refuses it)
        async with request.app[keys.database].read() as session:
            descriptors = await manifests.list_referrers(session, name, subject, artifact_type)
    headers = {"Content-Type": mt.OCI_INDEX}
    if artifact_type:
        headers["OCI-Filters-Applied"] = "artifactType"
    body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
    return web.Response(body=json.dumps(body).encode(), headers=headers)
