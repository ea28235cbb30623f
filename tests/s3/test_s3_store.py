"""The S3 store on a real S3 server: part boundaries, stray writers, cleanup, big copies, presigned URLs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import requests

from registry.oci.digest import Digest
from registry.settings import SettingsError, load_settings
from registry.storage import S3BlobStore, UploadConflict, UploadProgress
from registry.storage.s3parts import PART_SIZE, PartWriter, UploadParts
from tests.support.seaweedfs import SeaweedFS

MiB = 1 << 20


@pytest.fixture
async def store(seaweedfs: SeaweedFS) -> AsyncIterator[S3BlobStore]:
    s3 = S3BlobStore(seaweedfs.bucket, f"store/{uuid.uuid4().hex}", seaweedfs.config())
    yield s3
    await s3.close()


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _read(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


def _parts(progress: UploadProgress) -> list[int]:
    return [size for size, _etag in json.loads(progress.state)["parts"]]


async def _upload(store: S3BlobStore, upload: str, *appends: tuple[bytes, ...]) -> UploadProgress:
    await store.start_upload(upload)
    progress = UploadProgress()
    for chunks in appends:
        progress = await store.append_upload(upload, progress, _chunks(*chunks), lambda _: None)
    return progress


@pytest.mark.parametrize("chunk", [512 << 10, 5 * MiB - 1, 5 * MiB + 1, 20 * MiB])
async def test_chunks_of_any_size_become_whole_parts_and_a_tail(store: S3BlobStore, chunk: int):
    data = os.urandom(19 * MiB + 17)
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    # As a client's PATCHes: each piece is one request, so the tail carries over between appends.
    progress = await _upload(store, "u", *[(piece,) for piece in pieces])
    assert progress.size == len(data)
    parts = _parts(progress)
    assert parts and all(size >= PART_SIZE for size in parts)  # S3 wants >= 5 MiB but the last
    assert sum(parts) + json.loads(progress.state)["tail_size"] == len(data)
    location = await store.commit_upload("u", progress, Digest.of(data))
    assert await _read(store.read_blob(Digest.of(data), location=location)) == data


async def test_one_streamed_body_is_sent_in_parts_while_it_arrives(store: S3BlobStore, seaweedfs: SeaweedFS):
    data = os.urandom(30 * MiB)
    progress = await _upload(store, "s", tuple(data[i:i + (256 << 10)] for i in range(0, len(data), 256 << 10)))
    assert _parts(progress) == [PART_SIZE] * 3
    assert seaweedfs.multipart_uploads(store.prefix) == [f"{store.prefix}objects/s"]
    location = await store.commit_upload("s", progress, Digest.of(data))
    assert location == "objects/s"  # where it was written: no copy to the digest's key
    assert await _read(store.read_blob(Digest.of(data), 7 * MiB, 9 * MiB, location=location)) == data[7 * MiB:9 * MiB]
    assert store.blob_key(Digest.of(data)) not in seaweedfs.keys(store.prefix)


async def test_committing_leaves_only_the_blob(store: S3BlobStore, seaweedfs: SeaweedFS):
    data = os.urandom(12 * MiB)
    await store.start_upload("dead")  # a writer that died holding a multipart upload nobody recorded
    await store.append_upload("dead", UploadProgress(), _chunks(data), lambda _: None)
    progress = await _upload(store, "c", (data[:3 * MiB],), (data[3 * MiB:],))
    await store.start_upload("small")
    small = await store.append_upload("small", UploadProgress(), _chunks(b"config"), lambda _: None)
    assert await store.commit_upload("c", progress, Digest.of(data)) == "objects/c"
    assert await store.commit_upload("small", small, Digest.of(b"config")) == ""  # never a part: under its digest
    await store.cancel_upload("dead")
    assert sorted(seaweedfs.keys(store.prefix)) == [store.blob_key(Digest.of(b"config")), f"{store.prefix}objects/c"]
    assert seaweedfs.multipart_uploads(store.prefix) == []


async def test_a_part_replaced_by_a_stray_writer_fails_the_commit(store: S3BlobStore, seaweedfs: SeaweedFS):
    first, second = os.urandom(9 * MiB), os.urandom(10 * MiB)
    base = await _upload(store, "r", (first,))
    recorded = await store.append_upload("r", base, _chunks(second), lambda _: None)
    # A writer whose lease lapsed appends from the same state after the new holder did: part 2 again.
    await store.append_upload("r", base, _chunks(os.urandom(10 * MiB)), lambda _: None)
    # Either the store refuses (AWS: the part was replaced) or it assembles the recorded parts (SeaweedFS
    # keeps both and picks by ETag): never a blob whose bytes are not its digest's.
    digest = Digest.of(first + second)
    try:
        location = await store.commit_upload("r", recorded, digest)
    except UploadConflict:
        assert not {store.blob_key(digest), f"{store.prefix}objects/r"} & set(seaweedfs.keys(store.prefix))
    else:
        assert hashlib.sha256(await _read(store.read_blob(digest, location=location))).hexdigest() == digest.encoded


async def test_a_part_the_state_records_but_s3_lacks_fails_the_commit(store: S3BlobStore, seaweedfs: SeaweedFS):
    data = os.urandom(19 * MiB)
    recorded = await _upload(store, "m", (data,))
    state = json.loads(recorded.state)
    state["parts"][0][1] = '"0123456789abcdef0123456789abcdef"'
    forged = UploadProgress(recorded.size, json.dumps(state))
    with pytest.raises(UploadConflict):
        await store.commit_upload("m", forged, Digest.of(data))
    assert not {store.blob_key(Digest.of(data)), f"{store.prefix}objects/m"} & set(seaweedfs.keys(store.prefix))


async def test_superseded_tails_are_dropped_as_the_upload_goes_on(store: S3BlobStore, seaweedfs: SeaweedFS):
    progress = await _upload(store, "t", *[(os.urandom(100_000),) for _ in range(10)])
    tails = [key for key in seaweedfs.keys(store.prefix) if "/tail-" in key]
    # The recorded tail and the one before it (kept until the new state is surely recorded).
    assert len(tails) == 2 and f"{store.prefix}uploads/t/{json.loads(progress.state)['tail']}" in tails


async def test_an_upload_recorded_before_locations_is_copied_to_its_digest_part_by_part(store: S3BlobStore,
                                                                                       seaweedfs: SeaweedFS):
    # States recorded by an older berth have no key: their multipart upload is at uploads/<id>/data, and
    # committing copies it to the digest's key (in parts, over the copy limit, lowered here).
    store.copy_limit, store.copy_part = 6 * MiB, 5 * MiB
    data = os.urandom(17 * MiB)
    await store.start_upload("big")
    writer = PartWriter(await store.client(), store.bucket, f"{store.prefix}uploads/big/data", UploadParts(), b"")
    await writer.add(data)
    parts = await writer.finish()
    state = json.loads(parts.progress().state)
    del state["key"]
    assert await store.commit_upload("big", UploadProgress(len(data), json.dumps(state)), Digest.of(data)) == ""
    assert await _read(store.read_blob(Digest.of(data))) == data
    assert seaweedfs.keys(store.prefix) == [store.blob_key(Digest.of(data))]


async def test_an_upload_read_for_another_algorithm_still_commits(store: S3BlobStore):
    data = os.urandom(9 * MiB)
    progress = await _upload(store, "512", (data[:1 * MiB],), (data[1 * MiB:],))
    assert await _read(store.read_upload("512", progress)) == data  # seals the multipart upload
    digest = Digest.parse("sha512:" + hashlib.sha512(data).hexdigest())
    location = await store.commit_upload("512", progress, digest)
    assert await _read(store.read_blob(digest, location=location)) == data


async def test_presigned_urls_serve_the_blob_to_any_http_client(store: S3BlobStore, seaweedfs: SeaweedFS):
    data = os.urandom(3 * MiB)
    location = await store.commit_upload("p", await _upload(store, "p", (data,)), Digest.of(data))
    url = await store.blob_url(Digest.of(data), location=location)
    assert url is not None and url.startswith(seaweedfs.endpoint) and "Signature" in url
    assert (await _get(url)).content == data
    ranged = await _get(url, {"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == data[100:200]
    assert (await _get(url.replace("Signature=", "Signature=0"))).status_code == 403
    unsigned = S3BlobStore(store.bucket, store.prefix, seaweedfs.config(redirect=False))
    assert await unsigned.blob_url(Digest.of(data)) is None
    await unsigned.close()


async def _get(url: str, headers: dict[str, str] | None = None) -> requests.Response:
    """A plain HTTP client, as a docker or skopeo pull after our redirect (in a thread: it blocks)."""
    return await asyncio.to_thread(requests.get, url, headers=headers, timeout=10)


async def test_secrets_stay_out_of_reprs(seaweedfs: SeaweedFS, tmp_path: Path):
    config = seaweedfs.config()
    store = S3BlobStore(seaweedfs.bucket, "x", config)
    env = {**seaweedfs.env(), "BERTH_STORAGE_URL": "s3://b/p", "BERTH_S3_REGION": "eu-west-1"}
    settings = load_settings({"data_dir": tmp_path}, env=env)
    assert (settings.s3_secret_access_key, settings.s3_region) == (seaweedfs.secret_key, "eu-west-1")
    assert seaweedfs.secret_key not in repr(config) + repr(store) + repr(settings)


def test_the_config_file_groups_s3_settings_in_a_table(tmp_path: Path):
    config = tmp_path / "berth.toml"
    config.write_text('storage_url = "s3://b/p"\n[s3]\nendpoint_url = "http://127.0.0.1:1"\nredirect = false\n')
    settings = load_settings({}, env={"AWS_ENDPOINT_URL": "http://127.0.0.1:2"}, config_file=config)
    assert (settings.s3_endpoint_url, settings.s3_redirect) == ("http://127.0.0.1:2", False)  # env wins
    config.write_text('[s3]\nendpint_url = "x"\n')
    with pytest.raises(SettingsError, match="s3_endpint_url"):
        load_settings({}, env={}, config_file=config)
