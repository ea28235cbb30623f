"""A registry whose database connections are all in use answers 503 UNAVAILABLE with Retry-After, not a 500:
the request waited the pool's timeout for a connection (settings database_pool_*; PostgreSQL only, SQLite
has no pool to wait for)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from registry import keys
from registry.app import create_app
from registry.db.migrate import migrate
from tests.support import databases

pytestmark = pytest.mark.skipif(not databases.on_postgresql(),
                                reason="PostgreSQL only: SQLite connections are not pooled")


async def test_a_request_that_finds_no_free_connection_gets_503_with_retry_after(tmp_path: Path,
                                                                                 aiohttp_client):  # type: ignore[no-untyped-def]
    settings = databases.registry_settings(tmp_path / "data", workers=1, auth="none", database_pool_size=1,
                                           database_max_overflow=0, database_pool_timeout=0.3)
    settings.data_dir.mkdir(parents=True)
    await asyncio.to_thread(migrate, settings.database_url)
    client = await aiohttp_client(create_app(settings))
    assert (await client.get("/v2/lib/app/tags/list")).status == 404  # NAME_UNKNOWN: the pool works
    async with client.app[keys.database].write() as session:
        await session.execute(text("SELECT 1"))  # holds the pool's one connection
        busy = await client.get("/v2/lib/app/tags/list")
        assert busy.status == 503 and busy.headers["Retry-After"] == "1"
        assert (await busy.json())["errors"][0]["code"] == "UNAVAILABLE"
    assert (await client.get("/v2/lib/app/tags/list")).status == 404
