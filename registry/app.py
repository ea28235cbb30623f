"""The application factory: middlewares, routes, and resources that live as long as the app."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy.exc import TimeoutError as PoolTimeout

from . import errors, keys, metrics
from .api.auth import Gatekeeper
from .api.hub.api import setup_api
from .api.hub.search import setup_search
from .api.hub.token import setup_token
from .api.hub.webhooks import WebhookDeliveries
from .api.ops import setup_ops
from .api.v2 import setup_v2
from .db import Database
from .db.database import PoolLimits
from .db.readpath import open_read_path
from .services.cache import ReadCache
from .services.gc import GcOptions, collect_if_free
from .services.pulls import PullService
from .services.signing import TokenSigner
from .services.uploads import UploadService
from .settings import Settings
from .storage import open_configured_store
from .web import setup_web

log = logging.getLogger("berth.registry")
TOKEN_ISSUER = "berth"
KEY_RELOAD_SECONDS = 60
PULL_COUNT_SECONDS = 5.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[keys.settings] = settings
    app.cleanup_ctx.append(_resources)
    app.cleanup_ctx.append(_periodic_tasks)
    setup_v2(app)
    setup_search(app)
    setup_api(app)  # with --auth none too: reads are open to everyone, the rest answers 403
    if settings.auth == "token":
        setup_token(app)
    setup_web(app)  # the pages, in both auth modes (read-only ones with --auth none)
    setup_ops(app)  # probes, /metrics, read-only mode: last, its middlewares go innermost
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.settings]
    db = Database(settings.database_url, PoolLimits(settings.database_pool_size, settings.database_max_overflow,
                                                    settings.database_pool_timeout))
    store = open_configured_store(settings)
    app[keys.database] = db
    app[keys.blob_store] = store
    reads = open_read_path(settings.database_url, db)
    app[keys.uploads] = UploadService(db, store)
    app[keys.read_cache] = cache = ReadCache(reads)
    app[keys.pulls] = PullService(cache, store)
    if settings.auth == "token":
        signer = TokenSigner(TOKEN_ISSUER, settings.token_service, settings.token_ttl)
        app[keys.gatekeeper] = gate = Gatekeeper(settings, db, signer, cache)
        await gate.reload_keys()
    yield
    reads.close()
    await db.close()
    await store.close()


async def _periodic_tasks(app: web.Application) -> AsyncIterator[None]:
    """Every worker purges idle uploads (upload_ttl), writes its pull counts, picks up rotated keys,
    sends due webhook deliveries, and offers to collect garbage (gc_interval)."""
    settings = app[keys.settings]

    async def purge_uploads() -> None:
        purged = await app[keys.uploads].purge_idle(timedelta(seconds=settings.upload_ttl))
        if purged:
            log.info("purged %d idle upload(s)", purged)

    async def flush_pull_counts() -> None:
        await app[keys.pulls].flush_pull_counts(app[keys.database])

    tasks = [asyncio.create_task(_repeat(PULL_COUNT_SECONDS, flush_pull_counts))]
    # Read-only maintenance leaves the blob store alone (it may be being copied or collected); pull
    # counts and queued webhook deliveries touch no content and go on.
    if not settings.read_only:
        tasks.append(asyncio.create_task(_repeat(settings.upload_purge_interval, purge_uploads)))
    if settings.gc_interval and not settings.read_only:  # every worker tries; the lease lets one run
        gc_options = GcOptions(grace=timedelta(seconds=settings.gc_grace),
                               delete_untagged=settings.gc_delete_untagged)

        async def collect_garbage() -> None:
            report = await collect_if_free(app[keys.database], app[keys.blob_store], gc_options)
            if report is not None:
                log.info("%s", report.summary())
        tasks.append(asyncio.create_task(_repeat(settings.gc_interval, collect_garbage)))
    deliveries = WebhookDeliveries(app)
    tasks.append(asyncio.create_task(_repeat(deliveries.policy.poll_interval, deliveries.deliver_due)))
    if keys.gatekeeper in app:
        tasks.append(asyncio.create_task(_repeat(KEY_RELOAD_SECONDS, app[keys.gatekeeper].reload_keys)))
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await deliveries.close()
    await flush_pull_counts()  # the pulls of the last seconds count too


async def _repeat(interval: float, job: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await job()
        except Exception as exc:
            metrics.count_failure(exc, "background")
            log.exception("%s failed; will retry", job.__name__)


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
    except PoolTimeout:
        log.warning("no database connection free for %s %s within the pool timeout", request.method, request.path)
        return error_response(errors.Unavailable())
    except Exception:
        log.exception("unexpected error serving %s %s", request.method, request.path)
        return error_response(errors.RegistryError())
