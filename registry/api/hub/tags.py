"""JSON API: a repository's tags as Docker Hub's API lists them (`GET /api/v1/repositories/{namespace}/{name}/tags`),
newest push first, with what each costs to pull and the platforms it runs on. Readable as the repository is."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...services import hub
from ...services.hub import TagView
from . import openapi as oa
from .caller import database, identify, reader
from .pagination import page_json, page_of, query
from .repositories import (
    NAME_PARAMETER,
    NAMESPACE_PARAMETER,
    PAGE_PARAMETERS,
    REPOSITORY,
    path_name,
    readable_repository,
)


def routes() -> list[web.RouteDef]:
    return [web.get(REPOSITORY + "/tags", list_tags)]


def tag_json(tag: TagView) -> dict[str, Any]:
    return {"name": tag.name, "digest": tag.digest, "media_type": tag.media_type, "full_size": tag.size,
            "platforms": list(tag.platforms), "last_pushed": tag.pushed_at.isoformat()}


async def list_tags(request: web.Request) -> web.Response:
    caller = await identify(request)
    page = page_of(query(request, "page", "page_size"))
    namespace, name = path_name(request)
    async with database(request).read() as session:
        view = await readable_repository(session, reader(request, caller), namespace, name)
        count = await hub.tag_count(session, view.name)
        found = await hub.tags(session, view.name, page=page.number, page_size=page.size)
    return web.json_response(page_json(request, page, count, [tag_json(tag) for tag in found]))


_TAG = oa.obj({"name": oa.STRING, "digest": oa.STRING, "media_type": oa.STRING,
               "full_size": oa.nullable(oa.COUNT), "platforms": {"type": "array", "items": oa.STRING},
               "last_pushed": oa.MOMENT})
OPENAPI_SCHEMAS = {"Tag": _TAG}
OPENAPI_PATHS = {REPOSITORY + "/tags": {"get": oa.operation(
    "listTags", "A repository's tags, newest push first", "repositories",
    {200: oa.answer(oa.page(oa.ref("Tag")))}, errors=[404], login=oa.OPTIONAL_LOGIN,
    parameters=[NAMESPACE_PARAMETER, NAME_PARAMETER, *PAGE_PARAMETERS],
    description="`full_size` is what a pull downloads (config and layers, compressed; an index sums its "
                "children), null when unknown; `platforms` are os/architecture[/variant].")}}
