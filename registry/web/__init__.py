"""The Hub's pages: server-rendered HTML (Jinja2 templates) and hand-written CSS, on the main application.

Pages live at the root (`/`, `/search`, `/r/NAMESPACE/NAME`, ...), next to /v2, /v1, /token and /api/v1,
so they are routes of the main app rather than a sub-app; every route of ours is named `web.*`, and the
middleware below only ever touches those requests (and unknown paths outside the APIs, which get the
HTML 404 page). It checks the CSRF token of every form post before the handler runs, so no handler can
forget to.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from .. import keys
from . import browse, repository, settings, signin, teams, tokens
from .render import PageError, add_security_headers, environment, error_page, not_found
from .visitor import check_csrf

log = logging.getLogger("berth.web")
STATIC = Path(__file__).parent / "static"
ROUTE_PREFIX = "web."
API_PATHS = ("/v2", "/v1/", "/api/", "/token")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup_web(app: web.Application) -> None:
    """Add the pages to `app`. With --auth none only the pages that read are added (no accounts)."""
    environment(app)
    app.router.add_static("/static/", STATIC, name=ROUTE_PREFIX + "static")
    with_accounts = app[keys.settings].auth == "token"
    if with_accounts:
        # Settings first: the repository page's `/r/{namespace}/{name:.+}` would take `.../settings` too.
        for module in (signin, tokens, settings, teams):
            app.router.add_routes(module.routes())
    app.router.add_routes(browse.routes())
    app.router.add_routes(repository.routes(with_accounts))
    app.middlewares.append(page_boundary)


def _is_page(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    if resource is not None:
        return (resource.name or "").startswith(ROUTE_PREFIX)
    return not request.path.startswith(API_PATHS)  # an unknown path: a page's 404, unless an API's


@web.middleware
async def page_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CSRF checks before, HTML error pages and security headers after, for the pages' requests only."""
    if not _is_page(request):
        return await handler(request)
    try:
        if request.method not in ("GET", "HEAD") and request.match_info.http_exception is None \
                and not await check_csrf(request):
            raise PageError(403, "Form expired", "This form was not sent from a page of this site, or it "
                            "is too old. Go back, reload the page and try again.")
        response = await handler(request)
    except PageError as exc:
        response = await error_page(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects
        response = await error_page(request, not_found() if exc.status == 404 else PageError(exc.status, exc.reason))
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        response = await error_page(request, PageError(500, "Something went wrong",
                                                       "The error was logged. Try again in a moment."))
    add_security_headers(response)
    return response
