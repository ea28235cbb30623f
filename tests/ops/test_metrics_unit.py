"""metrics.py in one process: batched request counts give the exposition observe() would, and exceptions
are put down to the database or the blob store by where they were raised."""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from sqlalchemy import text

from registry import metrics
from registry.db import Database
from registry.oci.digest import Digest
from registry.storage import FilesystemBlobStore


def test_a_batch_of_durations_gives_the_histogram_observe_gives() -> None:
    durations = [random.choice([0.0, 0.0005, 0.0001, 0.004, 0.3, 2.0, 1e9, random.random()]) for _ in range(500)]
    one_by_one, batched = CollectorRegistry(), CollectorRegistry()
    expected = Histogram("d", "", ("route",), buckets=metrics.DURATION_BUCKETS, registry=one_by_one).labels("r")
    for duration in durations:
        expected.observe(duration)
    tally = metrics._Tally()
    for duration in durations:
        tally.seconds += duration
        tally.buckets[metrics.bisect_left(metrics.DURATION_BUCKETS, duration)] += 1
    got = Histogram("d", "", ("route",), buckets=metrics.DURATION_BUCKETS, registry=batched).labels("r")
    metrics._add_to_histogram(got, tally)
    assert _without_created(generate_latest(batched)) == _without_created(generate_latest(one_by_one))


def _without_created(exposition: bytes) -> list[str]:
    return [line for line in exposition.decode().splitlines() if "_created" not in line]  # a timestamp


def test_requests_reach_the_exposition_at_the_flush() -> None:
    route = "/v2/{name}/unit-test/{reference}"

    def count() -> float:
        for line in metrics.exposition().decode().splitlines():
            if line.startswith(f'berth_http_requests_total{{method="OTHER",route="{route}",status="418"}}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = count()
    for _ in range(3):
        metrics.observe_request("BREW", route, 418, 0.001, 10, 20)  # an unknown method is "OTHER"
    assert count() == before
    metrics.flush_requests()
    assert count() == before + 3


async def test_database_errors_are_told_apart_from_storage_errors(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'unit.db'}")
    try:
        async with db.read() as session:
            await session.execute(text("SELECT * FROM no_such_table"))
    except Exception as exc:
        database_error = exc
    finally:
        await db.close()
    assert metrics.failed_dependency(database_error) == "database"
    assert metrics.failed_dependency(sqlite3.OperationalError("disk I/O error")) == "database"

    store = FilesystemBlobStore(tmp_path / "blobs")
    with pytest.raises(FileNotFoundError) as missing:
        async for _ in store.read_blob(Digest.parse("sha256:" + "0" * 64)):
            pass
    assert metrics.failed_dependency(missing.value) == "storage"
    (tmp_path / "blobs" / "blobs").rmdir()
    with pytest.raises(FileNotFoundError) as unreachable:
        await store.check()
    assert metrics.failed_dependency(unreachable.value) == "storage"

    assert metrics.failed_dependency(ConnectionResetError()) is None  # the client went away
    assert metrics.failed_dependency(_raise_here(ValueError("a bug of ours"))) is None


def _raise_here(exc: Exception) -> Exception:
    try:
        raise exc
    except Exception as raised:
        return raised


def test_unknown_dependency_errors_are_not_counted() -> None:
    assert metrics.count_failure(_raise_here(KeyError("x")), "request") is None
    assert asyncio.iscoroutinefunction(FilesystemBlobStore.check)  # the BlobStore protocol's async check()


def test_counting_a_gc_run_never_fails_the_run(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "gone")}  # a server's, since removed
    done = subprocess.run([sys.executable, "-c", "from registry import metrics; metrics.record_gc_run()"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "cannot count the garbage collection run" in done.stderr
