"""Operations tests: real `berth-registry serve` processes with several workers behind one port, probed and
scraped over HTTP as Kubernetes and Prometheus would. Every test here that starts a server is marked e2e.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from registry.metrics import FLUSH_SECONDS
from tests.support.accounts import http
from tests.support.registry_process import RegistryProcess

WORKERS = 3
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
MakeServer = Callable[..., RegistryProcess]


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[MakeServer]:
    """`make_server(name, *extra_args, env=...)`: a started server with WORKERS workers, its data in
    tmp_path/name, its metrics files in tmp_path/name-metrics (PROMETHEUS_MULTIPROC_DIR, as an operator
    would set it, so that tests can see which workers wrote). Stopped at the end of the test."""
    started: list[RegistryProcess] = []

    def make(name: str = "registry", *extra_args: str, env: dict[str, str] | None = None,
             start: bool = True) -> RegistryProcess:
        environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"{name}-metrics"), **(env or {})}
        server = RegistryProcess(tmp_path / name, tmp_path / f"{name}.log", workers=WORKERS,
                                 extra_args=extra_args, env=environment)
        started.append(server)
        if start:
            server.start()
            wait_for_listeners(server.port, WORKERS)
        return server
    yield make
    for server in started:
        server.stop()


def wait_for_listeners(port: int, count: int, timeout: float = 20.0) -> None:
    """Until `count` sockets listen on `port`: each worker binds its own (SO_REUSEPORT) once its app is up.

    The server counts as started when one worker answers; a worker still starting would, say, make the
    blob directory a test has just moved away afresh."""
    deadline = time.monotonic() + timeout
    while (found := _listeners(port)) < count:
        assert time.monotonic() < deadline, f"{found} of {count} workers listen on port {port}"
        time.sleep(0.05)


def _listeners(port: int) -> int:
    # /proc/net/tcp rows: sl, local_address (hex ip:port), rem_address, st (0A is LISTEN), ...
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A")


def wait_for_flush() -> None:
    """Workers write the requests they counted to the shared files once a second (registry/metrics.py)."""
    time.sleep(FLUSH_SECONDS + 0.5)


def scrape(server: RegistryProcess) -> Samples:
    """GET /metrics, parsed with prometheus_client's own parser: {(sample name, labels): value}."""
    answer = http("GET", f"{server.url}/metrics")
    assert answer.status == 200, answer
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly `labels`, 0 when absent (a counter nobody incremented yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and "make_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)
