"""Registries for the garbage collection tests, on SQLite and on PostgreSQL (one contract suite).

`gc_registry` is an in-process registry (--auth none, periodic collection off: the tests run it) whose
database is SQLite or a copy of a PostgreSQL database migrated once (tests/support/postgres.py, a
private cluster started only when a test asks for PostgreSQL). `collect(...)` runs one collection.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry import keys
from registry.app import create_app
from registry.db import Database
from registry.db.migrate import migrate
from registry.oci.digest import Digest
from registry.services.gc import GcOptions, GcReport, collect_garbage
from registry.settings import Settings, load_settings
from tests.support.postgres import PostgresCluster, available

BACKENDS = ("sqlite", "postgresql")
TEMPLATE = "berth_gc_template"
_databases = itertools.count()


@dataclass
class GcRegistry:
    backend: str
    client: TestClient
    settings: Settings

    @property
    def db(self) -> Database:
        return self.client.app[keys.database]

    async def collect(self, grace: timedelta = timedelta(0), **options: Any) -> GcReport:
        return await collect_garbage(self.db, self.client.app[keys.blob_store], GcOptions(grace=grace, **options))

    def blob_file(self, digest: str) -> Path:
        path = self.client.app[keys.blob_store].blob_path(Digest.parse(digest))
        assert path is not None
        return path

    async def sql(self, statement: Any) -> Any:
        async with self.db.write() as session:
            return await session.execute(statement)

    async def scalar(self, statement: Any) -> Any:
        async with self.db.read() as session:
            return await session.scalar(statement)


@pytest.fixture(scope="session")
def gc_postgres() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        with ThreadPoolExecutor(1) as thread:  # migrations run an event loop of their own
            thread.submit(migrate, cluster.database(TEMPLATE)).result()
        yield cluster


def database_url(request: pytest.FixtureRequest, backend: str, data_dir: Path) -> str:
    if backend == "postgresql":
        if not available():
            pytest.skip("no PostgreSQL server installed")
        cluster: PostgresCluster = request.getfixturevalue("gc_postgres")
        return cluster.database(f"berth_gc_{next(_databases)}", template=TEMPLATE)
    return f"sqlite+aiosqlite:///{data_dir / 'registry.db'}"


async def open_registry(request: pytest.FixtureRequest, tmp_path: Path, aiohttp_client: Any,
                        backend: str) -> GcRegistry:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    url = database_url(request, backend, data_dir)
    settings = load_settings({"data_dir": data_dir, "workers": 1, "auth": "none", "database_url": url,
                              "gc_interval": 0}, env={})
    await asyncio.to_thread(migrate, url)
    return GcRegistry(backend, await aiohttp_client(create_app(settings)), settings)


@pytest.fixture(params=BACKENDS)
async def gc_registry(request: pytest.FixtureRequest, tmp_path: Path, aiohttp_client: Any) -> AsyncIterator[GcRegistry]:
    yield await open_registry(request, tmp_path, aiohttp_client, request.param)


@pytest.fixture
async def pg_registry(request: pytest.FixtureRequest, tmp_path: Path, aiohttp_client: Any) -> AsyncIterator[GcRegistry]:
    """On PostgreSQL only: for the interleavings of concurrent transactions (SQLite runs writers in turn)."""
    yield await open_registry(request, tmp_path, aiohttp_client, "postgresql")
