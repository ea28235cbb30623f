"""The garbage collector's deleting steps, each one batch in one write transaction: lock, look again, delete.

What is garbage is decided from the database alone (the mark):
- a link (repository, blob) no manifest of that repository references, made (or renewed by an upload or
  mount) longer ago than the grace period: the grace gives a push's manifest time to reference its blobs;
- a blob with no link and no manifest reference anywhere;
- with --delete-untagged, a manifest older than the grace period with no tag, that no manifest of its
  repository lists (an index) and whose subject is not in the repository (a referrer of a kept manifest).

Why a concurrent push never ends up referencing deleted bytes (distribution issue 3045):
1. Every deletion re-reads its condition after locking the rows it deletes (FOR UPDATE SKIP LOCKED; on
   SQLite writers take turns anyway). A manifest push takes the links and child manifests it relies on
   FOR SHARE (manifests._require), and a mount its source link: either the push went first and the
   re-read sees its references (or the row was skipped, locked), or the push waits and finds them gone
   and fails with MANIFEST_BLOB_UNKNOWN, which a client retries by uploading again.
2. An upload whose bytes are a blob being deleted: the store keeps the old copy when it already has the
   digest, then the upload links it. So blob deletion skips any blob an open upload of the same size
   might become (the upload row records its size before the bytes are committed, and is deleted in the
   transaction that links them), and deletes the bytes inside its transaction, holding (PostgreSQL) a
   SHARE lock on the upload table: an upload that records its size after the check waits until the
   bytes are gone, and then commits its own copy.
3. Links go first, in transactions of their own; a blob's bytes go in a later transaction, which deletes
   the blob's row after its bytes. A crash in between leaves a blob row with no link: invisible to pulls,
   pushes and mounts, and collected by the next run.
Nothing here waits for a row lock (SKIP LOCKED), so a collector cannot deadlock with a push.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, delete, exists, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Blob, Manifest, ManifestReference, RepositoryBlob, Tag, Upload
from ..oci.digest import Digest
from ..storage import BlobStore

log = logging.getLogger("berth.gc")
DELETE_CONCURRENCY = 16
LinkKey = tuple[int, str]


def garbage_links(cutoff: datetime) -> Select[int, str]:
    referenced = (select(ManifestReference.digest).join(Manifest, Manifest.id == ManifestReference.manifest_id)
                  .where(Manifest.repository_id == RepositoryBlob.repository_id,
                         ManifestReference.digest == RepositoryBlob.digest))
    return select(RepositoryBlob.repository_id, RepositoryBlob.digest).where(
        RepositoryBlob.linked_at < cutoff, ~exists(referenced))


def garbage_blobs() -> Select[str, int, str]:
    linked = select(RepositoryBlob.digest).where(RepositoryBlob.digest == Blob.digest)
    referenced = select(ManifestReference.digest).where(ManifestReference.digest == Blob.digest)
    return select(Blob.digest, Blob.size, Blob.location).where(~exists(linked), ~exists(referenced))


def garbage_manifests(cutoff: datetime) -> Select[int, int]:
    parent = Manifest.__table__.alias("parent")
    tagged = select(Tag.name).where(Tag.manifest_id == Manifest.id)
    listed = (select(ManifestReference.digest).join(parent, parent.c.id == ManifestReference.manifest_id)
              .where(parent.c.repository_id == Manifest.repository_id, ManifestReference.digest == Manifest.digest,
                     ManifestReference.is_manifest))
    subject = select(parent.c.id).where(parent.c.repository_id == Manifest.repository_id,
                                        parent.c.digest == Manifest.subject_digest)
    return select(Manifest.id, Manifest.repository_id).where(
        Manifest.created_at < cutoff, ~exists(tagged), ~exists(listed), ~exists(subject))


async def unlink_batch(session: AsyncSession, cutoff: datetime, after: LinkKey | None,
                       limit: int) -> tuple[int, LinkKey | None]:
    """Remove up to `limit` garbage links after `after`: (how many, where the next batch starts)."""
    key = tuple_(RepositoryBlob.repository_id, RepositoryBlob.digest)
    query = garbage_links(cutoff).order_by(RepositoryBlob.repository_id, RepositoryBlob.digest).limit(limit)
    if after is not None:
        query = query.where(key > after)
    candidates = [(row[0], row[1]) for row in await session.execute(query)]
    if not candidates:
        return 0, None
    locked = [(row[0], row[1]) for row in await session.execute(
        select(RepositoryBlob.repository_id, RepositoryBlob.digest).where(key.in_(candidates))
        .order_by(RepositoryBlob.repository_id, RepositoryBlob.digest).with_for_update(skip_locked=True))]
    still = [(row[0], row[1]) for row in await session.execute(garbage_links(cutoff).where(key.in_(locked)))] \
        if locked else []
    if still:
        await session.execute(delete(RepositoryBlob).where(key.in_(still)))
    return len(still), candidates[-1]


async def delete_blob_batch(session: AsyncSession, store: BlobStore | None, after: str | None,
                            limit: int) -> tuple[list[tuple[str, int]], int, str | None]:
    """Delete up to `limit` garbage blobs after digest `after`, bytes then rows; `store` None: a dry run.

    Returns (digest and size of each deleted, how many were skipped for open uploads, next `after`)."""
    if session.get_bind().dialect.name == "postgresql":
        # First, while holding no row lock: uploads that recorded their size before this are seen below,
        # later ones wait until the bytes are gone (point 2 above).
        await session.execute(text("LOCK TABLE upload IN SHARE MODE"))
    query = garbage_blobs().order_by(Blob.digest).limit(limit)
    if after is not None:
        query = query.where(Blob.digest > after)
    candidates = [row[0] for row in await session.execute(query)]
    if not candidates:
        return [], 0, None
    locked = list(await session.scalars(select(Blob.digest).where(Blob.digest.in_(candidates))
                                        .order_by(Blob.digest).with_for_update(skip_locked=True)))
    garbage = (await session.execute(garbage_blobs().where(Blob.digest.in_(locked)))).all() if locked else []
    busy_sizes = set(await session.scalars(select(Upload.size).where(
        Upload.size.in_({size for _, size, _ in garbage})))) if garbage else set()
    doomed = [(digest, size, location) for digest, size, location in garbage if size not in busy_sizes]
    skipped = len(garbage) - len(doomed)
    if store is not None:
        doomed = await _delete_bytes(store, doomed)
    if doomed:
        await session.execute(delete(Blob).where(Blob.digest.in_([digest for digest, _, _ in doomed])))
    return [(digest, size) for digest, size, _ in doomed], skipped, candidates[-1]


async def _delete_bytes(store: BlobStore, blobs: Sequence[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    """Delete the bytes of `blobs` (digest, size, location), a few at a time; the ones whose deletion failed
    keep their rows."""
    gate = asyncio.Semaphore(DELETE_CONCURRENCY)

    async def delete_one(digest: str, location: str) -> bool:
        async with gate:
            try:
                await store.delete_blob(Digest.parse(digest), location=location)
                return True
            except Exception:
                log.exception("cannot delete blob %s; it stays for the next run", digest)
                return False
    done = await asyncio.gather(*(delete_one(digest, location) for digest, _, location in blobs))
    return [blob for blob, ok in zip(blobs, done, strict=True) if ok]


async def delete_manifest_batch(session: AsyncSession, cutoff: datetime, after: int,
                                limit: int, only: Sequence[int] | None = None) -> tuple[int, int | None]:
    """Delete up to `limit` garbage manifests with ids above `after` (and in `only`, when given): their
    tags and references go with them (ON DELETE CASCADE). Returns (how many, next `after`)."""
    query = garbage_manifests(cutoff).where(Manifest.id > after).order_by(Manifest.id).limit(limit)
    if only is not None:
        query = query.where(Manifest.id.in_(only))
    candidates = [row[0] for row in await session.execute(query)]
    if not candidates:
        return 0, None
    locked = list(await session.scalars(select(Manifest.id).where(Manifest.id.in_(candidates))
                                        .order_by(Manifest.id).with_for_update(skip_locked=True)))
    still = [row[0] for row in await session.execute(garbage_manifests(cutoff).where(Manifest.id.in_(locked)))] \
        if locked else []
    if still:
        await session.execute(delete(Manifest).where(Manifest.id.in_(still)))
    return len(still), candidates[-1]
