"""Idle upload sessions are purged on a timer, with their scratch data; busy ones are left alone."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from aiohttp.test_utils import TestClient

from registry.app import create_app
from registry.db.migrate import migrate
from registry.settings import Settings


@pytest.fixture
async def short_lived(settings: Settings, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    settings = dataclasses.replace(settings, upload_ttl=0.5, upload_purge_interval=0.1)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate, settings.database_url)
    return await aiohttp_client(create_app(settings))


async def test_an_idle_upload_is_purged_with_its_data(short_lived: TestClient, settings: Settings):
    started = await short_lived.post("/v2/purge/blobs/uploads/")
    location = started.headers["Location"]
    upload_id = location.rsplit("/", 1)[1]
    patched = await short_lived.patch(location, data=b"partial layer", headers={"Content-Range": "0-12"})
    assert patched.status == 202
    scratch = settings.data_dir / "uploads" / upload_id
    assert scratch.read_bytes() == b"partial layer"

    await asyncio.sleep(1.0)
    status = await short_lived.get(location)
    assert status.status == 404
    assert (await status.json())["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    assert not scratch.exists()


async def test_an_upload_kept_busy_outlives_the_ttl(short_lived: TestClient):
    started = await short_lived.post("/v2/purge/blobs/uploads/")
    location = started.headers["Location"]
    offset = 0
    for _ in range(8):  # 8 x 0.15 s: longer than the 0.5 s TTL, but never idle that long
        await asyncio.sleep(0.15)
        patched = await short_lived.patch(location, data=b"x", headers={"Content-Range": f"{offset}-{offset}"})
        assert patched.status == 202, await patched.text()
        offset += 1
    assert (await short_lived.get(location)).headers["Range"] == f"0-{offset - 1}"
