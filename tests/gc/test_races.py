"""Pushes and the collector at the same moment, on PostgreSQL, where their transactions really overlap:
whoever locks the rows first wins, the other sees what it did, and nothing waits forever.
(On SQLite writers take turns, which is the same as one of these orders.)"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update

from registry import keys
from registry.db.models import RepositoryBlob, utcnow
from registry.oci.digest import Digest
from registry.services import gc_sweep, manifests

from ..api.oci import Content, error_codes, image, push_blob, put_manifest, random_blob
from .conftest import GcRegistry
from .test_collection import pull_everything

CONFIG = Content(b'{"architecture":"amd64","os":"linux"}')


async def aged_image(registry: GcRegistry, repo: str) -> Content:
    """Blobs pushed two hours ago (past a 1 h grace period) and the manifest that would reference them."""
    layer = random_blob(700)
    for blob in (CONFIG, layer):
        await push_blob(registry.client, repo, blob)
    await registry.sql(update(RepositoryBlob).values(linked_at=utcnow() - timedelta(hours=2)))
    return image(CONFIG, [layer])


async def test_the_collector_passes_by_the_links_a_push_in_progress_holds(pg_registry: GcRegistry):
    pushed = await aged_image(pg_registry, "lib/app")
    store = pg_registry.client.app[keys.blob_store]
    async with pg_registry.db.write() as push:  # the push's transaction, still open
        await manifests.put_manifest(push, store, "lib/app", "v1", pushed.data, pushed.media_type)
        report = await asyncio.wait_for(pg_registry.collect(grace=timedelta(hours=1)), 10)
        assert (report.links_removed, report.blobs_deleted) == (0, 0)
    assert (await pg_registry.collect(grace=timedelta(hours=1))).links_removed == 0  # referenced now
    await pull_everything(pg_registry, "lib/app", pushed)


async def test_a_push_during_the_collectors_transaction_waits_then_finds_its_blobs_gone(pg_registry: GcRegistry):
    late = await aged_image(pg_registry, "lib/app")
    async with pg_registry.db.write() as collector:
        removed, _ = await gc_sweep.unlink_batch(collector, utcnow() - timedelta(hours=1), None, 100)
        assert removed == 2
        push = asyncio.create_task(put_manifest(pg_registry.client, "lib/app", "v1", late))
        await asyncio.sleep(0.5)
        assert not push.done()  # waiting for the collector's row locks
    refused = await asyncio.wait_for(push, 10)
    assert refused.status == 400 and await error_codes(refused) == ["MANIFEST_BLOB_UNKNOWN"]


class PausingStore:
    """The registry's store, whose deletions wait for `go`: the moment a collector has chosen its blobs
    and not yet deleted their bytes."""

    def __init__(self, store: Any) -> None:
        self.store, self.reached, self.go = store, asyncio.Event(), asyncio.Event()

    async def delete_blob(self, digest: Digest, *, location: str = "") -> None:
        self.reached.set()
        await self.go.wait()
        await self.store.delete_blob(digest, location=location)


async def test_an_upload_of_a_blob_being_deleted_waits_and_then_stores_its_own_copy(pg_registry: GcRegistry):
    """Without the collector's lock on the upload table, the upload would find the old bytes still there,
    keep them instead of its own, and link them just after the collector deleted them."""
    blob = random_blob(2048)
    await push_blob(pg_registry.client, "lib/app", blob)
    await pg_registry.sql(delete(RepositoryBlob))  # garbage now
    store = PausingStore(pg_registry.client.app[keys.blob_store])
    async with pg_registry.db.write() as collector:
        sweep = asyncio.create_task(gc_sweep.delete_blob_batch(collector, store, None, 100))  # type: ignore[arg-type]
        await asyncio.wait_for(store.reached.wait(), 10)
        upload = asyncio.create_task(pg_registry.client.post(f"/v2/lib/app/blobs/uploads/?digest={blob.digest}",
                                                             data=blob.data))
        await asyncio.sleep(0.5)
        assert not upload.done()
        store.go.set()
        deleted, skipped, _ = await sweep
        assert ([digest for digest, _ in deleted], skipped) == ([blob.digest], 0)
    assert (await asyncio.wait_for(upload, 10)).status == 201
    assert pg_registry.blob_file(blob.digest).read_bytes() == blob.data
    got = await pg_registry.client.get(f"/v2/lib/app/blobs/{blob.digest}")
    assert got.status == 200 and await got.read() == blob.data
