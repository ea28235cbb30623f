"""Serving: one process per worker, each with its own event loop and SO_REUSEPORT socket.

The kernel spreads connections over the workers' sockets; the database and the blob store are shared,
so any worker can serve any request. The parent applies migrations once, then supervises the workers.
Metrics go to files in one directory shared by the workers (see metrics.py), so that a scrape reaching
any one of them reports the whole server.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path

from aiohttp import web

from . import metrics
from .app import create_app
from .bootstrap import bootstrap
from .db.migrate import migrate
from .logs import AccessLogger
from .settings import Settings

log = logging.getLogger("berth.server")

# Large reads keep per-chunk overhead low when clients stream big layers.
READ_BUFSIZE = 1 << 20
PR_SET_PDEATHSIG = 1


def serve(settings: Settings) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.database_url)
    bootstrap(settings)
    _check_port_free(settings)
    log.info("berth-registry listening on http://%s:%d with %d worker(s), database %s, storage %s",
             settings.host, settings.port, settings.workers, _redact(settings.database_url),
             settings.storage_url)
    metrics_dir = _metrics_directory()
    try:
        if settings.workers == 1:
            return _run_worker(settings, reuse_port=False)
        return _supervise(settings)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_directory() -> Path | None:
    """Where the workers keep their metrics: PROMETHEUS_MULTIPROC_DIR when the operator set it (so that
    another process, such as `berth-registry gc`, can add to them), else a private directory removed on
    exit, which is returned."""
    chosen = os.environ.get(metrics.MULTIPROC_ENV)
    if chosen:
        metrics.use_directory(Path(chosen))
        return None
    created = Path(tempfile.mkdtemp(prefix="berth-metrics-"))
    metrics.use_directory(created)
    return created


def _check_port_free(settings: Settings) -> None:
    # Workers bind with SO_REUSEPORT, which would silently share a port with another server of ours.
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as the workers use it: TIME_WAIT leftovers are fine, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((settings.host, settings.port))


def _supervise(settings: Settings) -> int:
    workers: dict[int, float] = {}
    stopping = False

    def spawn() -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                # The supervisor's handlers came along with fork(): until the worker's event loop installs
                # its own, SIGTERM (from the supervisor, or on its death) must simply end the worker.
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent(parent)
                code = _run_worker(settings, reuse_port=True)
            finally:
                os._exit(code)
        workers[pid] = time.monotonic()

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in workers:
            os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(settings.workers):
        spawn()
    failures = 0
    while workers:
        pid, status = os.wait()
        started = workers.pop(pid, None)
        if started is not None:
            metrics.worker_exited(pid)
        if started is None or stopping:
            continue
        log.error("worker %d exited (status %d); starting another", pid, os.waitstatus_to_exitcode(status))
        failures = failures + 1 if time.monotonic() - started < 5 else 0
        if failures >= 5:
            log.error("workers keep failing at start; giving up")
            stop(signal.SIGTERM, None)
            continue
        spawn()
    return 0 if stopping else 1


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive its supervisor (killed with -9, say) and go on serving unsupervised."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _run_worker(settings: Settings, reuse_port: bool) -> int:
    # The stock event loop, not uvloop: it sends blobs with sendfile(2) (uvloop copies them through a
    # thread, at 4x the CPU), and small requests measured as fast on both.
    asyncio.run(_serve_forever(settings, reuse_port))
    return 0


async def _serve_forever(settings: Settings, reuse_port: bool) -> None:
    runner = web.AppRunner(create_app(settings), access_log_class=AccessLogger,
                           read_bufsize=READ_BUFSIZE, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port, backlog=1024)
    await site.start()
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    await stopped.wait()
    await runner.cleanup()


def _redact(url: str) -> str:
    """Database URLs may carry a password: never log it."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"

