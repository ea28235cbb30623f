"""The registry on S3 (in-process, real SeaweedFS): chunked pushes across two app instances, blob GETs as
presigned redirects or streamed with ranges, hostile input, purges and mounts."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from aiohttp.test_utils import TestClient

from registry import keys
from registry.app import create_app
from registry.db.migrate import migrate
from registry.services.gc import GcOptions, collect_garbage
from registry.settings import Settings, load_settings
from tests.api.oci import digest_of
from tests.support import databases
from tests.support.seaweedfs import SeaweedFS

MiB = 1 << 20
MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def s3_settings(tmp_path: Path, seaweedfs: SeaweedFS) -> Settings:
    env = {**seaweedfs.env(), "BERTH_STORAGE_URL": seaweedfs.url(f"registry/{uuid.uuid4().hex}")}
    return load_settings({"data_dir": tmp_path / "data", "workers": 1, "auth": "none",
                          "database_url": databases.database_url(tmp_path / "data")}, env=env)


@pytest.fixture
async def registry(s3_settings: Settings, aiohttp_client) -> MakeClient:  # type: ignore[no-untyped-def]
    """Makes registries on one database and one bucket: a second one stands for another replica."""
    s3_settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate, s3_settings.database_url)

    async def make(**changes: object) -> TestClient:
        app = create_app(dataclasses.replace(s3_settings, **changes))  # type: ignore[arg-type]
        return await aiohttp_client(app)  # type: ignore[no-any-return]
    return make


async def _push_in_chunks(clients: list[TestClient], repository: str, data: bytes, chunk: int) -> str:
    """POST, one PATCH per chunk (each to the next client in turn), PUT ?digest= on the next one."""
    started = await clients[0].post(f"/v2/{repository}/blobs/uploads/")
    location = started.headers["Location"]
    for n, offset in enumerate(range(0, len(data), chunk)):
        body = data[offset:offset + chunk]
        patched = await clients[n % len(clients)].patch(location, data=body, headers={
            "Content-Range": f"{offset}-{offset + len(body) - 1}", "Content-Type": "application/octet-stream"})
        assert patched.status == 202, await patched.text()
        assert patched.headers["Range"] == f"0-{offset + len(body) - 1}"
    closed = await clients[-1].put(f"{location}?digest={digest_of(data)}")
    assert closed.status == 201, await closed.text()
    return digest_of(data)


async def test_a_chunked_push_alternating_between_replicas(registry: MakeClient, seaweedfs: SeaweedFS,
                                                           s3_settings: Settings):
    first, second = await registry(), await registry()
    data = os.urandom(21 * MiB + 5)
    digest = await _push_in_chunks([first, second], "s3/chunks", data, 3 * MiB)
    pulled = await second.get(f"/v2/s3/chunks/blobs/{digest}", allow_redirects=False)
    assert pulled.status == 307
    followed = await asyncio.to_thread(requests.get, pulled.headers["Location"], timeout=30)  # blocking client
    assert followed.content == data
    prefix = s3_settings.storage_url.removeprefix(f"s3://{seaweedfs.bucket}/") + "/"
    assert seaweedfs.multipart_uploads(prefix) == []
    assert [key for key in seaweedfs.keys(prefix) if "/uploads/" in key] == []


async def test_a_streamed_push_then_a_pull_that_follows_the_redirect(registry: MakeClient):
    client = await registry()
    data = os.urandom(12 * MiB)
    started = await client.post("/v2/s3/stream/blobs/uploads/")
    patched = await client.patch(started.headers["Location"], data=_stream(data))  # Transfer-Encoding: chunked
    assert patched.status == 202
    closed = await client.put(f"{patched.headers['Location']}?digest={digest_of(data)}")
    assert closed.status == 201
    head = await client.head(f"/v2/s3/stream/blobs/{digest_of(data)}")
    assert head.status == 200 and head.headers["Content-Length"] == str(len(data))
    followed = await client.get(f"/v2/s3/stream/blobs/{digest_of(data)}")  # aiohttp follows the 307
    assert followed.status == 200 and await followed.read() == data


async def _stream(data: bytes):  # type: ignore[no-untyped-def]
    for offset in range(0, len(data), 100_000):
        yield data[offset:offset + 100_000]


async def test_without_redirects_blobs_stream_through_with_ranges(registry: MakeClient):
    client = await registry(s3_redirect=False)
    data = os.urandom(200_000)  # above the small-blob size served from memory
    started = await client.post(f"/v2/s3/ranges/blobs/uploads/?digest={digest_of(data)}", data=data)
    assert started.status == 201
    url = f"/v2/s3/ranges/blobs/{digest_of(data)}"
    whole = await client.get(url, allow_redirects=False)
    assert whole.status == 200 and await whole.read() == data
    for header, status, expected, content_range in [
            ("bytes=10-19", 206, data[10:20], "bytes 10-19/200000"),
            ("bytes=199990-", 206, data[199990:], "bytes 199990-199999/200000"),
            ("bytes=-5", 206, data[-5:], "bytes 199995-199999/200000"),
            ("bytes=100-999999", 206, data[100:], "bytes 100-199999/200000")]:
        part = await client.get(url, headers={"Range": header})
        assert (part.status, await part.read(), part.headers["Content-Range"]) == (status, expected, content_range)
    unsatisfiable = await client.get(url, headers={"Range": "bytes=200000-"})
    assert unsatisfiable.status == 416 and unsatisfiable.headers["Content-Range"] == "bytes */200000"


async def test_a_wrong_digest_fails_and_leaves_no_multipart_upload(registry: MakeClient, seaweedfs: SeaweedFS,
                                                                    s3_settings: Settings):
    client = await registry()
    data = os.urandom(10 * MiB)
    started = await client.post("/v2/s3/hostile/blobs/uploads/")
    location = started.headers["Location"]
    assert (await client.patch(location, data=data)).status == 202
    closed = await client.put(f"{location}?digest={digest_of(b'other bytes')}")
    assert closed.status == 400 and (await closed.json())["errors"][0]["code"] == "DIGEST_INVALID"
    assert (await client.get(location)).status == 404
    prefix = s3_settings.storage_url.removeprefix(f"s3://{seaweedfs.bucket}/") + "/"
    assert seaweedfs.multipart_uploads(prefix) == [] and seaweedfs.keys(prefix) == []


async def test_out_of_order_chunks_are_refused_and_the_upload_goes_on(registry: MakeClient):
    client = await registry()
    data = os.urandom(6 * MiB)
    started = await client.post("/v2/s3/order/blobs/uploads/")
    location = started.headers["Location"]
    first = await client.patch(location, data=data[:3 * MiB], headers={"Content-Range": f"0-{3 * MiB - 1}"})
    assert first.status == 202
    for bad in (f"{3 * MiB + 1}-{6 * MiB - 1}", f"0-{3 * MiB - 1}", "5-2"):
        body = data[3 * MiB + 1:] if bad.startswith(str(3 * MiB + 1)) else data[:3 * MiB]
        refused = await client.patch(location, data=body, headers={"Content-Range": bad})
        assert refused.status == 416, bad
    assert (await client.get(location)).headers["Range"] == f"0-{3 * MiB - 1}"
    # A body shorter than its Content-Range is refused and records nothing.
    short = await client.patch(location, data=data[3 * MiB:4 * MiB], headers={"Content-Range": f"{3 * MiB}-{6 * MiB}"})
    assert short.status in (400, 416)
    rest = await client.patch(location, data=data[3 * MiB:], headers={"Content-Range": f"{3 * MiB}-{6 * MiB - 1}"})
    assert rest.status == 202
    assert (await client.put(f"{location}?digest={digest_of(data)}")).status == 201


async def test_the_purge_aborts_idle_multipart_uploads(registry: MakeClient, seaweedfs: SeaweedFS,
                                                       s3_settings: Settings):
    client = await registry()
    started = await client.post("/v2/s3/purge/blobs/uploads/")
    assert (await client.patch(started.headers["Location"], data=os.urandom(9 * MiB))).status == 202
    prefix = s3_settings.storage_url.removeprefix(f"s3://{seaweedfs.bucket}/") + "/"
    assert len(seaweedfs.multipart_uploads(prefix)) == 1
    assert await client.app[keys.uploads].purge_idle(timedelta(0)) == 1
    assert seaweedfs.multipart_uploads(prefix) == [] and seaweedfs.keys(prefix) == []
    assert (await client.get(started.headers["Location"])).status == 404


async def test_a_mount_links_the_blob_without_copying_it(registry: MakeClient, seaweedfs: SeaweedFS,
                                                         s3_settings: Settings):
    client = await registry()
    data = os.urandom(1000)
    assert (await client.post(f"/v2/s3/source/blobs/uploads/?digest={digest_of(data)}", data=data)).status == 201
    prefix = s3_settings.storage_url.removeprefix(f"s3://{seaweedfs.bucket}/") + "/"
    before = seaweedfs.keys(prefix)
    mounted = await client.post(f"/v2/s3/target/blobs/uploads/?mount={digest_of(data)}&from=s3/source")
    assert mounted.status == 201
    assert seaweedfs.keys(prefix) == before
    assert (await client.head(f"/v2/s3/target/blobs/{digest_of(data)}")).status == 200


async def test_a_blob_pushed_twice_stays_where_first_written_and_the_gc_deletes_it_there(
        registry: MakeClient, seaweedfs: SeaweedFS, s3_settings: Settings):
    client = await registry()
    data = os.urandom(9 * MiB)  # a whole part: the multipart upload's object becomes the blob, uncopied
    prefix = s3_settings.storage_url.removeprefix(f"s3://{seaweedfs.bucket}/") + "/"
    for repository in ("s3/first", "s3/second"):
        started = await client.post(f"/v2/{repository}/blobs/uploads/")
        patched = await client.patch(started.headers["Location"], data=data)
        assert (await client.put(f"{patched.headers['Location']}?digest={digest_of(data)}")).status == 201
    objects = [key for key in seaweedfs.keys(prefix) if "/objects/" in key]
    assert len(objects) == 1 and not [key for key in seaweedfs.keys(prefix) if "/blobs/" in key]
    for repository in ("s3/first", "s3/second"):
        assert await (await client.get(f"/v2/{repository}/blobs/{digest_of(data)}")).read() == data
        assert (await client.delete(f"/v2/{repository}/blobs/{digest_of(data)}")).status == 202
    app = client.app
    report = await collect_garbage(app[keys.database], app[keys.blob_store], GcOptions(grace=timedelta(0)))
    assert report.blobs_deleted == 1 and seaweedfs.keys(prefix) == []
