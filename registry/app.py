"""The application factory: middlewares, routes, and resources that live as long as the app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web

from . import errors, keys
from .api.v2 import setup_v2
from .db import Database
from .db.readpath import open_read_path
from .services.pulls import PullService
from .services.uploads import UploadService
from .settings import Settings
from .storage import open_blob_store

log = logging.getLogger("berth.registry")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[keys.settings] = settings
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(_upload_purger)
    setup_v2(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.settings]
    db = Database(settings.database_url)
    store = open_blob_store(settings.storage_url)
    app[keys.database] = db
    app[keys.blob_store] = store
    reads = open_read_path(settings.database_url, db)
    app[keys.uploads] = UploadService(db, store)
    app[keys.pulls] = PullService(reads, store)
    yield
    reads.close()
    await db.close()


async def _upload_purger(app: web.Application) -> AsyncIterator[None]:
    """Drop upload sessions idle for longer than upload_ttl, on a timer, in every worker."""
    settings = app[keys.settings]

    async def purge_forever() -> None:
        while True:
            await asyncio.sleep(settings.upload_purge_interval)
            try:
                purged = await app[keys.uploads].purge_idle(timedelta(seconds=settings.upload_ttl))
                if purged:
                    log.info("purged %d idle upload(s)", purged)
            except Exception:
                log.exception("upload purge failed; will retry")

    task = asyncio.create_task(purge_forever())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def error_response(exc: errors.RegistryError) -> web.Response:
    response = web.json_response(exc.body(), status=exc.status)
    response.headers.extend(exc.headers)
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render RegistryError as the spec's JSON; unknown routes under /v2 too; never a traceback."""
    try:
        return await handler(request)
    except errors.RegistryError as exc:
        return error_response(exc)
    except web.HTTPMethodNotAllowed as exc:
        if not request.path.startswith("/v2"):
            raise
        return error_response(errors.Unsupported(f"{request.method} is not supported here",
                                                 headers={"Allow": ",".join(sorted(exc.allowed_methods))}))
    except web.HTTPNotFound:
        if not request.path.startswith("/v2"):
            raise
        unknown = errors.Unsupported("no such endpoint")
        unknown.status = 404
        return error_response(unknown)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return error_response(errors.RegistryError())
