"""Prometheus metrics: what the registry counts, added up over every worker of one server.

A server is several worker processes behind one port and a scrape reaches only one of them, so the numbers
live in files: prometheus_client's multiprocess mode, where each process writes its values to small
memory-mapped files (`counter_<pid>.db`, ...) in one directory and /metrics sums the files of all of them.
server.py calls `use_directory` before it forks the workers; without it (tests in one process, admin
commands) the values stay in the process that made them. Counters of a worker that died stay in the sum,
so totals never go backwards while the server runs; the directory is emptied when a server starts.

Requests are counted on the hot path in plain Python (a dict lookup and a few additions: 0.3 us, 1 us
with finding the route's pattern) and written to the files once a second by `flush_requests` (ops.py
runs it in every worker, and before each scrape), so a scrape may miss the last second of the other
workers' requests.

For other code, the whole interface is four calls:
  * `record_gc_run(ok)`: count a garbage collection run (`berth_gc_runs_total{outcome="ok"|"failed"}`).
    Inside a server worker it shows up at once; a separate process (the `gc` command) is counted by a
    running server only when it has the server's PROMETHEUS_MULTIPROC_DIR in its environment.
  * `count_failure(exc, during)`: count an exception if it came from the database or the blob store.
  * `observe_request(...)`: one finished HTTP request (logs.AccessLogger calls it for every request).
  * `flush_requests()`: write the requests counted since the last flush.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import traceback
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, values
from prometheus_client.registry import Collector

log = logging.getLogger("berth.metrics")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# From a manifest served from memory (~0.3 ms) to a large layer streamed over a slow link.
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0, 300.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "(unmatched)"  # 404s and 405s of unknown paths: never the raw path, which anyone can make up
# Where an exception was raised says which dependency failed: the innermost frame of one of these.
_DATABASE_MODULES = ("registry.db", "sqlalchemy", "aiosqlite", "asyncpg", "sqlite3")
_STORAGE_MODULES = ("registry.storage", "aiobotocore", "botocore")
# The client hung up: neither the database's fault nor the store's.
_CLIENT_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)
FLUSH_SECONDS = 1.0


class _Tally:
    """Requests of one (method, route, status) not yet written to the metric files."""
    __slots__ = ("requests", "seconds", "buckets", "received", "sent")

    def __init__(self) -> None:
        self.requests, self.seconds, self.received, self.sent = 0, 0.0, 0, 0
        self.buckets = [0] * (len(DURATION_BUCKETS) + 1)  # the last one: +Inf


@dataclass
class _Instruments:
    """The metric objects of this process (labels as documented in README.md, "Operations")."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    requests: Counter = field(init=False)
    duration: Histogram = field(init=False)
    received: Counter = field(init=False)
    sent: Counter = field(init=False)
    failures: Counter = field(init=False)
    gc_runs: Counter = field(init=False)
    # (method, route, status) -> the label children a flush touches: labels() costs a lock and a tuple
    # build per call, a dict lookup does not.
    children: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter, Counter]] = field(default_factory=dict)
    pending: dict[tuple[str, str, int], _Tally] = field(default_factory=dict)

    def __post_init__(self) -> None:
        on = self.registry
        self.requests = Counter("berth_http_requests", "HTTP requests answered, by route pattern and status",
                                ("method", "route", "status"), registry=on)
        self.duration = Histogram("berth_http_request_duration_seconds",
                                  "Time from reading a request to having sent the whole response",
                                  ("method", "route"), buckets=DURATION_BUCKETS, registry=on)
        self.received = Counter("berth_http_received_bytes", "Request body bytes read", ("method", "route"),
                                registry=on)
        self.sent = Counter("berth_http_sent_bytes", "Response bytes sent, headers and files included",
                            ("method", "route"), registry=on)
        self.failures = Counter("berth_dependency_errors", "Errors raised by the database or the blob store",
                                ("dependency", "during"), registry=on)
        self.gc_runs = Counter("berth_gc_runs", "Garbage collection runs", ("outcome",), registry=on)


@cache
def _instruments() -> _Instruments:
    """Made on first use, in the process that uses it: after server.py chose the directory and forked."""
    return _Instruments()


def use_directory(directory: Path) -> None:
    """Keep this process's metrics, and those of the processes it forks, in files under `directory`.

    Call before anything records a metric. Files a previous server left there are removed: their
    processes are gone, and summing them would start today's counters at yesterday's totals.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus_client picks the value class once, when it is imported (by logs.py, long before
    # settings are read); metrics made from now on must use the files.
    values.ValueClass = values.get_value_class()
    _instruments.cache_clear()


def worker_exited(pid: int) -> None:
    """Drop what a dead worker's gauges said (its counters stay: totals never go backwards)."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        multiprocess.mark_process_dead(pid, directory)


def observe_request(method: str, route: str, status: int, duration: float, received: int, sent: int) -> None:
    """Count one answered request. `route` must be a route pattern (or UNMATCHED), never a request path.

    In memory only, until the next `flush_requests`: a file write costs a lock and a getpid(), about
    1 us, and a request needs four (count, histogram bucket and sum, bytes): 7% of the CPU time of a
    manifest GET served from memory, measured with wrk. Batched, the cost is under 2%.
    """
    key = (method if method in METHODS else "OTHER", route, status)
    pending = _instruments().pending
    tally = pending.get(key)
    if tally is None:
        tally = pending[key] = _Tally()
    tally.requests += 1
    tally.seconds += duration
    tally.buckets[bisect_left(DURATION_BUCKETS, duration)] += 1  # the first bucket with duration <= le
    tally.received += received
    tally.sent += sent


def flush_requests() -> None:
    """Write the requests counted since the last flush to the metrics (the files, in a server)."""
    metrics = _instruments()
    pending, metrics.pending = metrics.pending, {}
    for key, tally in pending.items():
        children = metrics.children.get(key)
        if children is None:
            labels = key[:2]
            children = metrics.children[key] = (metrics.requests.labels(*labels, str(key[2])),
                                                metrics.duration.labels(*labels), metrics.received.labels(*labels),
                                                metrics.sent.labels(*labels))
        requests, durations, received, sent = children
        requests.inc(tally.requests)
        _add_to_histogram(durations, tally)
        if tally.received:  # most requests have no body: skip the write a zero would cost
            received.inc(tally.received)
        if tally.sent:
            sent.inc(tally.sent)


def _add_to_histogram(histogram: Histogram, tally: _Tally) -> None:
    # Histogram has no public call to add many observations at once; its per-bucket values are what
    # observe() increments (one bucket, then the sum). tests/ops/test_metrics_unit.py checks that this
    # gives the very exposition observe() would, so an upgrade that changes them fails a test.
    histogram._sum.inc(tally.seconds)
    for bucket, count in zip(histogram._buckets, tally.buckets, strict=True):
        if count:
            bucket.inc(count)


def failed_dependency(exc: BaseException) -> str | None:
    """"database", "storage", or None when `exc` came from neither (a bug, a client, a bad request)."""
    if isinstance(exc, _CLIENT_GONE):
        return None
    if isinstance(exc, sqlite3.Error) or type(exc).__module__.startswith(_DATABASE_MODULES):
        return "database"
    for frame, _line in reversed(list(traceback.walk_tb(exc.__traceback__))):
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith(_DATABASE_MODULES):
            return "database"
        if module.startswith(_STORAGE_MODULES):
            return "storage"
    return None


def count_failure(exc: BaseException, during: str) -> str | None:
    """Count `exc` if the database or the blob store raised it; `during` is "request", "readiness" or
    "background". Returns the dependency counted, or None."""
    dependency = failed_dependency(exc)
    if dependency is not None:
        count_dependency_error(dependency, during)
    return dependency


def count_dependency_error(dependency: str, during: str) -> None:
    _instruments().failures.labels(dependency, during).inc()


def record_gc_run(ok: bool = True) -> None:
    """Count one garbage collection run, finished (`ok`) or failed. Call it once per run, at its end.

    Never raises: a metrics directory that went missing must not fail the run it counts."""
    try:
        _instruments().gc_runs.labels("ok" if ok else "failed").inc()
    except OSError as exc:
        log.warning("cannot count the garbage collection run in %s: %s", os.environ.get(MULTIPROC_ENV), exc)


def exposition(extra: Collector | None = None) -> bytes:
    """The text exposition of every worker's metrics (or this process's), plus `extra` (values worked out
    at scrape time, such as gauges read from the database). Reads files: call it in a thread."""
    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, directory)
    else:
        registry = _instruments().registry
    body = generate_latest(registry)
    if extra is not None:  # the text format is a sequence of families: another one can follow
        scraped = CollectorRegistry()
        scraped.register(extra)
        body += generate_latest(scraped)
    return body
