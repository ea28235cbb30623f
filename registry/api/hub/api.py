"""The JSON API under /api/v1 (the web UI and the `berth` CLI use it): accounts, organizations, repositories
with their tags and stars, webhooks, and its OpenAPI document. A sub-app of its own.

Every answer is JSON; errors have the registry's one shape (`{"errors": [{"code", "message", "detail"}]}`,
rendered by app.py's middleware). The services' refusals are mapped onto the API's errors here, once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from ... import errors
from ...services.errors import AccountError, NotFound
from . import (
    accounts,
    audit_log,
    openapi,
    openapi_accounts,
    organizations,
    quotas,
    repositories,
    retention,
    stars,
    tags,
    webhooks,
)

PREFIX = "/api/v1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# Each module lists its routes (`routes()`) and describes them in OPENAPI_PATHS, which openapi.py merges into
# GET /api/v1/openapi.json; tests/api_v1/test_openapi.py checks that the two name the same operations. The
# account modules, older than the document, are described in openapi_accounts.py.
ROUTES = (accounts, organizations, audit_log, repositories, tags, stars, webhooks, retention, quotas)
DESCRIPTIONS = (openapi_accounts, repositories, tags, stars, webhooks, retention, quotas, openapi)


def setup_api(app: web.Application) -> None:
    """Mount the JSON API (with every --auth mode: without accounts, reads are open and the rest is refused)."""
    api = web.Application(middlewares=[api_boundary])
    for module in ROUTES:
        api.router.add_routes(module.routes())
    api.router.add_routes(openapi.routes(openapi.document(DESCRIPTIONS)))
    app.add_subapp(PREFIX, api)


@web.middleware
async def api_boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Services say what went wrong in their words; the API answers in its codes. Unknown routes and
    methods answer JSON too."""
    try:
        return await handler(request)
    except NotFound as exc:
        raise errors.NotFound(str(exc)) from None
    except AccountError as exc:
        raise errors.ApiError(str(exc)) from None
    except IntegrityError:  # a concurrent request took the name between our check and our insert
        raise errors.Conflict("a concurrent change conflicts with this one; try again") from None
    except web.HTTPMethodNotAllowed as exc:
        raise errors.MethodNotAllowed(f"{request.method} is not supported here",
                                      headers={"Allow": ",".join(sorted(exc.allowed_methods))}) from None
    except web.HTTPNotFound:
        raise errors.NotFound("no such endpoint") from None
