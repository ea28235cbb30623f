"""/healthz and /readyz against real failures: the blob directory gone, PostgreSQL frozen, then stopped."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.services.health import CHECK_TIMEOUT
from tests.support import postgres
from tests.support.accounts import Answer, http
from tests.support.registry_process import RegistryProcess

from .conftest import WORKERS, MakeServer, scrape, value


def probe(server: RegistryProcess, path: str) -> Answer:
    return http("GET", server.url + path)


def every_worker(server: RegistryProcess, path: str) -> list[Answer]:
    """Enough probes on fresh connections that every worker answers some (the kernel spreads them)."""
    return [probe(server, path) for _ in range(6 * WORKERS)]


def test_a_healthy_registry_is_live_and_ready(make_server: MakeServer) -> None:
    server = make_server()
    assert probe(server, "/healthz").json() == {"status": "ok"}
    for answer in every_worker(server, "/readyz"):
        assert answer.status == 200
        assert answer.json() == {"status": "ready", "read_only": False, "failed": {}}
        assert answer.headers["Cache-Control"] == "no-store"


def test_blob_directory_gone_makes_it_unready_until_it_is_back(make_server: MakeServer) -> None:
    server = make_server()
    blobs = server.data_dir / "blobs"
    blobs.rename(server.data_dir / "blobs.unmounted")  # as if its volume were unmounted
    try:
        answers = every_worker(server, "/readyz")
        assert probe(server, "/healthz").status == 200  # alive: restarting it would not bring the disk back
    finally:
        (server.data_dir / "blobs.unmounted").rename(blobs)
    for answer in answers:
        assert answer.status == 503
        body = answer.json()
        assert body["status"] == "unavailable"
        assert body["failed"] == {"storage": "FileNotFoundError: No such file or directory"}
        assert str(server.data_dir) not in answer.body.decode()  # the probe is public: no paths
    assert all(answer.status == 200 for answer in every_worker(server, "/readyz"))
    failures = value(scrape(server), "berth_dependency_errors_total", dependency="storage", during="readiness")
    assert failures == len(answers)  # counted by whichever worker answered, added up by the scrape
    assert "not ready: storage: FileNotFoundError" in server.log_text()


@pytest.fixture
def cluster() -> Iterator[postgres.PostgresCluster]:
    if not postgres.available():
        pytest.skip("PostgreSQL is not installed (make install-test installs it)")
    with postgres.PostgresCluster() as running:
        yield running


def _cluster_processes(cluster: postgres.PostgresCluster) -> list[int]:
    """The postmaster and its children (the sessions the registry is connected to)."""
    postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    children = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(p) == postmaster]
    return [postmaster, *children]


def _parent(proc: Path) -> int | None:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def test_a_hung_database_answers_503_within_the_timeout(make_server: MakeServer,
                                                        cluster: postgres.PostgresCluster) -> None:
    server = make_server("pg", env={"BERTH_DATABASE_URL": cluster.database("ops_probes")})
    assert all(answer.status == 200 for answer in every_worker(server, "/readyz"))
    frozen = _cluster_processes(cluster)
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)  # the database still accepts bytes and never answers
    try:
        answers, waits = [], []
        for _ in range(6 * WORKERS):
            started = time.monotonic()
            answers.append(probe(server, "/readyz"))
            waits.append(time.monotonic() - started)
        live = probe(server, "/healthz")
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    for answer in answers:
        assert answer.status == 503, answer
        assert answer.json()["failed"] == {"database": f"no answer within {CHECK_TIMEOUT:g} s"}
    # Each probe waits the timeout and no longer (an unbounded query would wait for good); a worker still
    # waiting on the database from an earlier probe has the next one wait on that same check.
    assert max(waits) < CHECK_TIMEOUT + 1.0, waits
    assert live.status == 200  # /healthz never touches the database
    deadline = time.monotonic() + 10
    while not all(answer.status == 200 for answer in every_worker(server, "/readyz")):
        assert time.monotonic() < deadline, "still not ready 10 s after the database came back"
        time.sleep(0.2)


def test_a_stopped_database_makes_it_unready(make_server: MakeServer, cluster: postgres.PostgresCluster) -> None:
    server = make_server("pg", env={"BERTH_DATABASE_URL": cluster.database("ops_stopped")})
    assert probe(server, "/readyz").status == 200
    cluster.stop()
    answers = every_worker(server, "/readyz")
    assert {answer.status for answer in answers} == {503}
    assert all(set(answer.json()["failed"]) == {"database"} for answer in answers)
    assert probe(server, "/healthz").status == 200
    assert probe(server, "/v2/").status == 200  # and what needs no database goes on working
