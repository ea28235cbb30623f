"""The OCI Distribution API (and the Docker Registry v2 API it grew from), routes in the spec's order."""

from __future__ import annotations

from aiohttp import web

from . import base, blobs, manifests, uploads

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")


def setup_v2(app: web.Application) -> None:
    name = "/v2/{name:.+}"
    app.router.add_routes([
        web.get("/v2/", base.ping, name="ping"),
        web.get("/v2", base.ping),
        web.get("/v2/_catalog", base.catalog, name="catalog"),
        # Pull
        web.get(name + "/manifests/{reference}", manifests.get_manifest, name="manifest"),
        web.get(name + "/blobs/{digest}", blobs.get_blob, name="blob"),
        # Push
        web.post(name + "/blobs/uploads/", uploads.start_upload, name="uploads"),
        web.get(name + "/blobs/uploads/{upload_id}", uploads.upload_status, name="upload", allow_head=False),
        web.patch(name + "/blobs/uploads/{upload_id}", uploads.append_chunk),
        web.put(name + "/blobs/uploads/{upload_id}", uploads.finish_upload),
        web.put(name + "/manifests/{reference}", manifests.put_manifest),
        # Content discovery
        web.get(name + "/tags/list", manifests.list_tags, name="tags"),
        web.get(name + "/referrers/{digest}", manifests.list_referrers, name="referrers"),
        # Content management
        web.delete(name + "/manifests/{reference}", manifests.delete_manifest),
        web.delete(name + "/blobs/uploads/{upload_id}", uploads.cancel_upload),
        web.delete(name + "/blobs/{digest}", blobs.delete_blob),
    ])
    app.on_response_prepare.append(_add_api_version)


async def _add_api_version(request: web.Request, response: web.StreamResponse) -> None:
    # Every /v2 answer carries it, errors included: clients use it to recognise a registry.
    if request.path.startswith("/v2"):
        response.headers[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
