"""The BlobStore contract (registry/storage/base.py), run against every store implementation.

Like distribution's DriverSuite: one suite, parametrized over the stores (the filesystem today; S3 joins
with the scale-out work), so a new store is done when this passes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from registry.oci.digest import Digest
from registry.storage import BlobStore, FilesystemBlobStore, UploadConflict, UploadMissing


@pytest.fixture(params=["filesystem"])
def store(request: pytest.FixtureRequest, tmp_path) -> BlobStore:  # type: ignore[no-untyped-def]
    return FilesystemBlobStore(tmp_path / "store")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def test_an_upload_appended_in_pieces_commits_as_its_blob(store: BlobStore):
    data = os.urandom(3 << 20)
    digest = Digest.of(data)
    await store.start_upload("u1")
    seen = bytearray()
    async with store.lock_upload("u1"):
        size = await store.append_upload("u1", 0, _chunks(data[:1000], data[1000:2 << 20]), seen.extend)
        size = await store.append_upload("u1", size, _chunks(data[2 << 20:]), seen.extend)
        assert size == len(data) and bytes(seen) == data
        assert await _read(store.read_upload("u1", size)) == data
        await store.commit_upload("u1", size, digest)
    assert await _read(store.read_blob(digest)) == data
    assert await _read(store.read_blob(digest, 10, 20)) == data[10:20]
    with pytest.raises(UploadMissing):
        async with store.lock_upload("u1"):
            pass


async def test_appending_at_a_recorded_offset_drops_what_a_dead_writer_left(store: BlobStore):
    await store.start_upload("u2")
    async with store.lock_upload("u2"):
        await store.append_upload("u2", 0, _chunks(b"good", b"stray bytes"), lambda _: None)
        # The database recorded only 4 bytes: the writer died before saying more.
        size = await store.append_upload("u2", 4, _chunks(b" data"), lambda _: None)
        assert size == 9 and await _read(store.read_upload("u2", size)) == b"good data"


async def test_an_upload_has_one_holder_at_a_time(store: BlobStore):
    await store.start_upload("u3")
    async with store.lock_upload("u3"):
        with pytest.raises(UploadConflict):
            async with store.lock_upload("u3"):
                pass
    async with store.lock_upload("u3"):  # free again once released
        pass


async def test_committing_a_digest_the_store_has_keeps_the_old_copy(store: BlobStore):
    data = b"same bytes"
    digest = Digest.of(data)
    for upload in ("a", "b"):
        await store.start_upload(upload)
        async with store.lock_upload(upload):
            await store.append_upload(upload, 0, _chunks(data), lambda _: None)
            await store.commit_upload(upload, len(data), digest)
    assert await _read(store.read_blob(digest)) == data


async def test_cancel_and_delete_are_safe_for_unknown_names(store: BlobStore):
    await store.cancel_upload("never-started")
    await store.delete_blob(Digest.of(b"never stored"))
    await store.start_upload("u4")
    await store.cancel_upload("u4")
    with pytest.raises(UploadMissing):
        async with store.lock_upload("u4"):
            pass


async def test_hostile_upload_ids_reach_no_file(store: BlobStore):
    for upload_id in ("..", "../blobs", "a/b", "a\0b", ""):
        with pytest.raises(UploadMissing):
            async with store.lock_upload(upload_id):
                pass


async def test_concurrent_commits_of_one_digest_leave_one_whole_blob(store: BlobStore):
    data = os.urandom(1 << 20)
    digest = Digest.of(data)

    async def upload(upload_id: str) -> None:
        await store.start_upload(upload_id)
        async with store.lock_upload(upload_id):
            await store.append_upload(upload_id, 0, _chunks(data), lambda _: None)
            await store.commit_upload(upload_id, len(data), digest)

    await asyncio.gather(*(upload(f"c{i}") for i in range(8)))
    assert await _read(store.read_blob(digest)) == data
