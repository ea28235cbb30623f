"""The BlobStore contract (registry/storage/base.py), run against every store implementation.

Like distribution's DriverSuite: one suite, parametrized over the stores (a directory, and S3 on a real
SeaweedFS server), so a new store is done when this passes. Sizes cross S3's part size (8 MiB) so that
the S3 store's parts, tails and multipart uploads are all exercised.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from registry.oci.digest import Digest
from registry.storage import BlobStore, FilesystemBlobStore, S3BlobStore, UploadMissing, UploadProgress

MiB = 1 << 20
StoreFactory = Callable[[], BlobStore]


@pytest.fixture(params=["filesystem", "s3"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Makes store instances on one shared location: a second instance stands for another process."""
    made: list[BlobStore] = []
    prefix = f"contract/{uuid.uuid4().hex}"

    def make() -> BlobStore:
        if request.param == "filesystem":
            store: BlobStore = FilesystemBlobStore(tmp_path / "store")
        else:
            server = request.getfixturevalue("seaweedfs")
            store = S3BlobStore(server.bucket, prefix, server.config())
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


@pytest.fixture
def store(stores: StoreFactory) -> BlobStore:
    return stores()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


async def _append(store: BlobStore, upload: str, progress: UploadProgress, *parts: bytes,
                  seen: bytearray | None = None) -> UploadProgress:
    return await store.append_upload(upload, progress, _chunks(*parts), seen.extend if seen is not None else _drop)


def _drop(_chunk: bytes) -> None:
    pass


async def test_an_upload_appended_in_pieces_commits_as_its_blob(store: BlobStore):
    data = os.urandom(11 * MiB)
    digest = Digest.of(data)
    await store.start_upload("u1")
    seen = bytearray()
    progress = await _append(store, "u1", UploadProgress(), data[:1000], data[1000:2 * MiB], seen=seen)
    assert progress.size == 2 * MiB
    progress = await _append(store, "u1", progress, data[2 * MiB:], seen=seen)
    assert progress.size == len(data) and bytes(seen) == data
    assert await _read(store.read_upload("u1", progress)) == data
    location = await store.commit_upload("u1", progress, digest)
    assert await _read(store.read_blob(digest, location=location)) == data
    assert await _read(store.read_blob(digest, 10, 20, location=location)) == data[10:20]
    assert await _read(store.read_blob(digest, 9 * MiB, location=location)) == data[9 * MiB:]
    with pytest.raises(UploadMissing):
        await _append(store, "u1", progress, b"more")


async def test_appending_at_a_recorded_offset_drops_what_a_dead_writer_left(store: BlobStore):
    await store.start_upload("u2")
    recorded = await _append(store, "u2", UploadProgress(), b"good")
    # A writer sent 9 MiB (a whole S3 part) and died before the database recorded its progress.
    await _append(store, "u2", recorded, os.urandom(9 * MiB), b"stray")
    rest = os.urandom(9 * MiB)
    progress = await _append(store, "u2", recorded, b" data", rest)
    data = b"good data" + rest
    assert progress.size == len(data) and await _read(store.read_upload("u2", progress)) == data
    location = await store.commit_upload("u2", progress, Digest.of(data))
    assert await _read(store.read_blob(Digest.of(data), location=location)) == data


async def test_another_instance_continues_an_upload_from_its_recorded_progress(stores: StoreFactory):
    first, second = stores(), stores()
    part = os.urandom(6 * MiB)
    await first.start_upload("u3")
    progress = await _append(first, "u3", UploadProgress(), part)
    progress = await _append(second, "u3", progress, part)
    progress = await _append(first, "u3", progress, b"end")
    data = part + part + b"end"
    location = await second.commit_upload("u3", progress, Digest.of(data))
    stored = await _read(first.read_blob(Digest.of(data), location=location))
    assert hashlib.sha256(stored).digest() == hashlib.sha256(data).digest()


async def test_an_empty_body_changes_nothing_and_an_empty_upload_is_the_empty_blob(store: BlobStore):
    await store.start_upload("u4")
    progress = await _append(store, "u4", UploadProgress())
    assert progress.size == 0
    location = await store.commit_upload("u4", progress, Digest.of(b""))
    assert await _read(store.read_blob(Digest.of(b""), location=location)) == b""


@pytest.mark.parametrize("size", [10, 9 * MiB])
async def test_committing_a_digest_twice_leaves_it_readable_at_each_location(store: BlobStore, size: int):
    data = os.urandom(size)
    digest = Digest.of(data)
    locations = []
    for upload in ("a", "b"):
        await store.start_upload(upload)
        progress = await _append(store, upload, UploadProgress(), data)
        locations.append(await store.commit_upload(upload, progress, digest))
    for location in locations:
        assert await _read(store.read_blob(digest, location=location)) == data
    if locations[0] != locations[1]:  # copies at locations of their own: deleting one leaves the other
        await store.delete_blob(digest, location=locations[1])
        assert await _read(store.read_blob(digest, location=locations[0])) == data


async def test_cancel_and_delete_are_safe_for_unknown_names(store: BlobStore):
    await store.cancel_upload("never-started")
    await store.delete_blob(Digest.of(b"never stored"))
    await store.start_upload("u5")
    progress = await _append(store, "u5", UploadProgress(), os.urandom(9 * MiB))
    await store.cancel_upload("u5")
    with pytest.raises(UploadMissing):
        await _append(store, "u5", progress, b"more")
    with pytest.raises(UploadMissing):
        await _append(store, "u5", UploadProgress(), b"more")


@pytest.mark.parametrize("size", [15, 9 * MiB])
async def test_deleted_and_unknown_blobs_cannot_be_read(store: BlobStore, size: int):
    data = os.urandom(size)
    await store.start_upload("u6")
    location = await store.commit_upload("u6", await _append(store, "u6", UploadProgress(), data), Digest.of(data))
    await store.delete_blob(Digest.of(data), location=location)
    for digest in (Digest.of(data), Digest.of(b"never stored")):
        with pytest.raises(FileNotFoundError):
            await _read(store.read_blob(digest, location=location if digest == Digest.of(data) else ""))


async def test_hostile_upload_ids_reach_no_file(store: BlobStore):
    for upload_id in ("..", "../blobs", "a/b", "a\0b", ""):
        with pytest.raises(UploadMissing):
            await _append(store, upload_id, UploadProgress(), b"x")
        with pytest.raises(UploadMissing):
            await store.start_upload(upload_id)


async def test_concurrent_commits_of_one_digest_leave_one_whole_blob(store: BlobStore):
    data = os.urandom(1 * MiB)
    digest = Digest.of(data)

    async def upload(upload_id: str) -> str:
        await store.start_upload(upload_id)
        progress = await _append(store, upload_id, UploadProgress(), data)
        return await store.commit_upload(upload_id, progress, digest)

    for location in await asyncio.gather(*(upload(f"c{i}") for i in range(8))):
        assert await _read(store.read_blob(digest, location=location)) == data
