"""Finding repositories: the home page, search, and the repositories of a user or an organization.

Every list shows only what the visitor may read: listings filter in SQL with services.access's readable
condition, and search asks the same access check about each match.
"""

from __future__ import annotations

import re

from aiohttp import web

from .. import keys
from ..db import Database
from ..services import accounts, hub
from ..services.hub import RepositoryView
from ..services.search import MAX_TERM, search_repositories
from .render import PageError, not_found, render
from .visitor import Visitor, readable, visitor

PAGE_SIZE = 25
HOME_SIZE = 6
MAX_PAGE = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def routes() -> list[web.RouteDef]:
    return [web.get("/", home, name="web.home"), web.get("/search", search, name="web.search"),
            web.get("/u/{user}", user_page, name="web.user"),
            web.get("/orgs/{org}", organization_page, name="web.organization")]


def database(request: web.Request) -> Database:
    return request.config_dict[keys.database]


def page_number(request: web.Request) -> int:
    """`?page=N` from 1; anything else reads as the first page (a mistyped link still shows something)."""
    value = request.query.get("page", "1")
    return min(int(value), MAX_PAGE) if value.isdigit() and int(value) >= 1 else 1


def page_count(total: int, page_size: int = PAGE_SIZE) -> int:
    return max(1, -(-total // page_size))


async def home(request: web.Request) -> web.Response:
    who = await visitor(request)
    async with database(request).read() as session:
        condition = await readable(session, who)
        _, popular = await hub.listing(session, condition, order="pulls", page_size=HOME_SIZE)
        _, recent = await hub.listing(session, condition, order="recent", page_size=HOME_SIZE)
    return await render(request, "home.html", popular=popular,
                        recent=[r for r in recent if r.last_pushed_at is not None])


async def search(request: web.Request) -> web.Response:
    term = request.query.get("q", "").strip()
    if len(term) > MAX_TERM or _CONTROL.search(term):
        raise PageError(400, "Search term not valid", f"Search for at most {MAX_TERM} printable characters.")
    page = page_number(request)
    who = await visitor(request)
    if term:
        total, results = await find_repositories(request, who, term, page)
    else:  # no term: browse everything, most pulled first
        async with database(request).read() as session:
            total, results = await hub.listing(session, await readable(session, who), order="pulls", page=page,
                                               page_size=PAGE_SIZE)
    return await render(request, "search.html", term=term, page=page, pages=page_count(total), total=total,
                        results=results)


async def find_repositories(request: web.Request, who: Visitor, term: str, page: int
                            ) -> tuple[int, list[RepositoryView]]:
    """(how many match, one page of) the repositories matching `term` that the visitor may read.

    Matching and ranking are services.search's; this is the one place the pages call it, so a change of
    its signature changes this function only. The page then shows each hit's metadata from services.hub.
    """
    async with database(request).read() as session:
        found = await search_repositories(session, term, page, PAGE_SIZE, await readable(session, who))
        views = [await hub.repository(session, hit.name) for hit in found.hits]
    return found.total, [view for view in views if view is not None]


async def user_page(request: web.Request) -> web.Response:
    return await _namespace_page(request, request.match_info["user"], accounts.USER)


async def organization_page(request: web.Request) -> web.Response:
    return await _namespace_page(request, request.match_info["org"], accounts.ORGANIZATION)


async def _namespace_page(request: web.Request, namespace: str, kind: str) -> web.Response:
    """The repositories of a namespace the visitor may read. A namespace without an account (possible
    with --auth none, or when an administrator pushed there) shows as long as it holds something."""
    who = await visitor(request)
    page = page_number(request)
    async with database(request).read() as session:
        found_kind = await accounts.namespace_kind(session, namespace)
        if found_kind not in (None, kind):
            raise not_found()
        total, repositories = await hub.listing(session, await readable(session, who), namespace=namespace,
                                                order="name", page=page, page_size=PAGE_SIZE)
        if found_kind is None and total == 0:
            raise not_found()
        manages = who.signed_in is not None and kind == accounts.ORGANIZATION and found_kind == kind and (
            who.signed_in.is_admin
            or await accounts.organization_role(session, namespace, who.signed_in.user_id) == accounts.OWNER)
    return await render(request, "namespace.html", namespace=namespace, kind=kind, total=total, page=page,
                        pages=page_count(total), repositories=repositories, manages_teams=manages)
