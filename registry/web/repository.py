"""A repository's page (`/r/NAMESPACE/NAME`, and `/_/NAME` for single-component names) and its star button.

A repository the visitor may not read answers the very 404 page a missing one does.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlparse

from aiohttp import web

from .. import keys
from ..oci.reference import is_valid_name
from ..services import accounts, hub
from ..services.access import ADMIN, OFFICIAL_NAMESPACE, READ
from ..services.hub import RepositoryView, TagView
from .browse import database
from .render import not_found, render, repo_url
from .visitor import level, visitor

DEFAULT_TAG = "latest"


def routes(with_accounts: bool) -> list[web.RouteDef]:
    pages = [web.get("/r/{namespace}/{name:.+}", repository_page, name="web.repository"),
             web.get("/_/{name}", repository_page, name="web.official")]
    if not with_accounts:
        return pages
    return [web.post("/r/{namespace}/{name:.+}/star", star, name="web.star"),
            web.post("/_/{name}/star", star, name="web.official_star"), *pages]


def candidate_names(request: web.Request) -> list[str]:
    """The repositories an address may mean, most likely first: `/_/NAME` is `NAME` or `library/NAME`,
    and `/r/library/NAME` is `library/NAME` or `NAME` (Docker Hub's two spellings of official images)."""
    info = request.match_info
    if "namespace" not in info:
        names = [info["name"], f"{OFFICIAL_NAMESPACE}/{info['name']}"]
    elif info["namespace"] == OFFICIAL_NAMESPACE:
        names = [f"{OFFICIAL_NAMESPACE}/{info['name']}", info["name"]]
    else:
        names = [f"{info['namespace']}/{info['name']}"]
    return [name for name in names if is_valid_name(name)]


async def readable_repository(request: web.Request, minimum: int = READ) -> tuple[RepositoryView, int]:
    """The repository the address names and the visitor's level on it; 404 when the visitor may not read
    it. Callers that need more than reading check the level themselves (403 once it is known to exist)."""
    who = await visitor(request)
    for name in candidate_names(request):
        async with database(request).read() as session:
            view = await hub.repository(session, name)
        if view is not None:
            found = await level(request, who, name)
            if found >= minimum:
                return view, found
    raise not_found()


def registry_host(request: web.Request) -> str:
    """How clients name this registry in image references: public_url's host, else the request's."""
    public_url = request.config_dict[keys.settings].public_url
    return urlparse(public_url).netloc if public_url else request.host


def chosen_tag(request: web.Request, tags: list[TagView]) -> str | None:
    wanted = request.query.get("tag")
    names = [tag.name for tag in tags]
    if wanted in names:
        return wanted
    return DEFAULT_TAG if DEFAULT_TAG in names else (names[0] if names else None)


async def repository_page(request: web.Request) -> web.Response:
    view, found_level = await readable_repository(request)
    who = await visitor(request)
    async with database(request).read() as session:
        tags = await hub.tags(session, view.name)
        starred = who.signed_in is not None and await hub.is_starred(session, who.signed_in.user_id, view.name)
        kind = await accounts.namespace_kind(session, view.namespace)
    tag = chosen_tag(request, tags)
    image = f"{registry_host(request)}/{view.name}"
    reference = image + (f":{tag}" if tag else "")
    return await render(request, "repository.html", repository=view, tags=tags, tag=tag, starred=starred,
                        image=image, docker_pull=f"docker pull {reference}", berth_pull=f"berth pull {reference}",
                        namespace_url=("/orgs/" if kind == accounts.ORGANIZATION else "/u/") + view.namespace,
                        is_admin=found_level >= ADMIN and not who.open_registry)


async def star(request: web.Request) -> web.Response:
    """Star or unstar (the form says which): signed-in visitors only; others are sent to sign in."""
    view, _ = await readable_repository(request)
    who = await visitor(request)
    if who.signed_in is None:
        raise web.HTTPSeeOther("/signin?" + urlencode({"next": repo_url(view.name)}))
    form = await request.post()
    try:
        async with database(request).write() as session:
            await hub.set_star(session, who.signed_in.user_id, view.name, form.get("starred") == "true")
    except LookupError:  # deleted since it was read
        raise not_found() from None
    raise web.HTTPSeeOther(repo_url(view.name))
