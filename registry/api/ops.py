"""Operating the registry: liveness and readiness probes, Prometheus metrics, read-only maintenance mode.

`/healthz` says the process serves requests (no database access: a database outage must not get every
replica restarted); `/readyz` says the database and the blob store answer, within a short timeout;
`/metrics` is the text exposition of every worker's metrics. All three are open, like `/v2/`: they show
no repository names (routes are counted by pattern). A proxy in front can keep /metrics private.

Read-only mode refuses every request that would change content, before its handler runs, with 405 and
the spec's UNSUPPORTED code (an HTML page for the pages' forms). What still may write: token requests
and signing in or out (they change no content), pull counts, and webhook deliveries already queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from .. import errors, keys, metrics
from ..services.health import Readiness, count_open_uploads
from ..web.render import PageError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Route patterns that may still POST in read-only mode: they issue tokens or sessions, not content.
STILL_WRITABLE = frozenset({"/token", "/signin", "/signout"})
READ_ONLY_MESSAGE = ("the registry is in read-only maintenance mode: pulls, searches and sign-ins work, "
                     "pushes, deletions and other changes do not; try again after the maintenance")
NO_STORE = {"Cache-Control": "no-store"}


def setup_ops(app: web.Application) -> None:
    """Add the probes and /metrics, and the middlewares that must run right around the handlers: call it
    last in create_app, after every other setup has added its middlewares."""
    app.router.add_routes([web.get("/healthz", healthz, name="ops.healthz"),
                           web.get("/readyz", readyz, name="ops.readyz"),
                           web.get("/metrics", scrape, name="ops.metrics")])
    app.cleanup_ctx.append(_readiness)
    app.cleanup_ctx.append(_flushing_metrics)
    if app[keys.settings].read_only:
        app.middlewares.append(refuse_writes)
    app.middlewares.append(count_dependency_errors)


async def _readiness(app: web.Application) -> AsyncIterator[None]:
    app[keys.readiness] = readiness = Readiness(app[keys.database], app[keys.blob_store])
    yield
    await readiness.close()


async def _flushing_metrics(app: web.Application) -> AsyncIterator[None]:
    """Write the requests counted in memory to the shared files every second (metrics.py says why)."""
    async def flush_forever() -> None:
        while True:
            await asyncio.sleep(metrics.FLUSH_SECONDS)
            metrics.flush_requests()

    task = asyncio.create_task(flush_forever())
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    metrics.flush_requests()  # this worker's last second counts too


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, headers=NO_STORE)


async def readyz(request: web.Request) -> web.Response:
    """200 when the database and the blob store answer; 503 naming each one that does not."""
    failures = await request.app[keys.readiness].failures()
    for failure in failures:
        metrics.count_dependency_error(failure.dependency, "readiness")
    body = {"status": "unavailable" if failures else "ready",
            "read_only": request.app[keys.settings].read_only,
            "failed": {failure.dependency: failure.reason for failure in failures}}
    return web.json_response(body, status=503 if failures else 200, headers=NO_STORE)


async def scrape(request: web.Request) -> web.Response:
    gauges = _Gauges(await _scrape_time_gauges(request.app))
    metrics.flush_requests()  # this worker's own requests up to now; the others' are at most a second old
    body = await asyncio.to_thread(metrics.exposition, gauges)  # reads every worker's files
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4, **NO_STORE})


async def _scrape_time_gauges(app: web.Application) -> list[GaugeMetricFamily]:
    """Values the database holds for all workers and replicas alike: read when scraped, not counted."""
    read_only = GaugeMetricFamily("berth_read_only", "1 while the registry refuses writes (maintenance mode)",
                                  value=int(app[keys.settings].read_only))
    found = [read_only]
    try:
        uploads = await asyncio.wait_for(count_open_uploads(app[keys.database]), app[keys.readiness].timeout)
    except Exception:  # no number rather than no metrics; the error counter says why
        metrics.count_dependency_error("database", "request")
    else:
        found.append(GaugeMetricFamily("berth_uploads_in_progress",
                                       "Blob uploads started and not yet finished, cancelled or purged",
                                       value=uploads))
    return found


class _Gauges(Collector):
    def __init__(self, families: Iterable[GaugeMetricFamily]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return self._families


@web.middleware
async def refuse_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read-only mode: 405 UNSUPPORTED for every write, before the handler (and its service) runs."""
    match_info = request.match_info
    resource = match_info.route.resource
    if request.method in READ_METHODS or match_info.http_exception is not None or resource is None \
            or resource.canonical in STILL_WRITABLE:
        return await handler(request)
    # An empty Allow: "the resource has been temporarily disabled by configuration" (RFC 9110, 10.2.1).
    allow = {"Allow": ", ".join(sorted({route.method for route in resource} & READ_METHODS))}
    if (resource.name or "").startswith("web."):
        raise PageError(405, "Read-only maintenance",
                        "This registry is in read-only maintenance mode: you can browse, search and pull, "
                        "but changes are refused until the maintenance is over. Please try again later.",
                        headers=allow)
    raise errors.Unsupported(READ_ONLY_MESSAGE, headers=allow)


@web.middleware
async def count_dependency_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count exceptions the database or the blob store raised under a handler (then let them go on to be
    logged and rendered as before). Innermost, so that it sees them before any boundary renders them."""
    try:
        return await handler(request)
    except (web.HTTPException, errors.RegistryError, PageError):
        raise
    except Exception as exc:
        metrics.count_failure(exc, "request")
        raise
