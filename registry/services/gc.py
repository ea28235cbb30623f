"""Online garbage collection: retention policies, untagged manifests, unreferenced links and blobs.

One run goes through the steps of gc_sweep.py in order (each in batches of one transaction), so that
what one step frees the next one collects in the same run:
1. retention policies delete the tags they do not keep, and the manifests that lost their last tag;
2. with `delete_untagged`, untagged manifests nothing needs (gc_sweep.garbage_manifests), until none is
   left (deleting an index frees its children for the next pass);
3. links no manifest of their repository references, older than the grace period;
4. blobs with neither links nor references: bytes, then rows.
The registry keeps serving throughout; gc_sweep.py explains why concurrent pushes stay safe. One process
runs it at a time across workers and replicas (gc_lease.Lease). A dry run does all of it in one
transaction that it rolls back and deletes no bytes: it reports what a run would free at that moment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from .. import metrics
from ..db import Database
from ..db.models import utcnow
from ..storage import BlobStore
from . import gc_sweep, retention
from .gc_lease import Lease

log = logging.getLogger("berth.gc")
T = TypeVar("T")
P = ParamSpec("P")


class LeaseLost(Exception):
    """Another process took the lease while this run worked (it stalled for longer than the TTL)."""


class _DryRun(Exception):
    """Raised at the end of a dry run to roll its one transaction back."""


@dataclass(frozen=True, slots=True)
class GcOptions:
    grace: timedelta = timedelta(hours=1)
    delete_untagged: bool = False
    dry_run: bool = False
    batch: int = 500  # rows per transaction
    # Blobs per transaction: their bytes are deleted inside it, holding SQLite's write lock (PostgreSQL:
    # the upload table), so pushes wait for at most one batch of file deletions.
    blob_batch: int = 100


@dataclass(slots=True)
class GcReport:
    dry_run: bool
    tags_deleted: int = 0
    manifests_deleted: int = 0
    links_removed: int = 0
    blobs_deleted: int = 0
    bytes_freed: int = 0
    blobs_skipped: int = 0  # garbage, but an open upload might be about to commit the same bytes
    seconds: float = 0.0

    def json(self) -> dict[str, object]:
        return asdict(self)

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (f"garbage collection {verb} {self.blobs_deleted} blob(s), {self.bytes_freed} bytes "
                f"({self.links_removed} link(s), {self.manifests_deleted} manifest(s), {self.tags_deleted} tag(s)"
                f"{f', {self.blobs_skipped} blob(s) left for open uploads' if self.blobs_skipped else ''}) "
                f"in {self.seconds:.2f} s")


class _Transactions:
    """Runs each batch in a write transaction of its own and renews the lease between batches; in a dry
    run, every batch in the one session it is given."""

    def __init__(self, db: Database, lease: Lease | None, session: AsyncSession | None) -> None:
        self.db, self.lease, self.session = db, lease, session

    async def run(self, batch: Callable[Concatenate[AsyncSession, P], Awaitable[T]], *args: P.args,
                  **kwargs: P.kwargs) -> T:
        if self.session is not None:
            return await batch(self.session, *args, **kwargs)
        if self.lease is not None and not await self.lease.renew():
            raise LeaseLost(f"lease {self.lease.name!r} is no longer held by {self.lease.holder}")
        async with self.db.write() as session:
            return await batch(session, *args, **kwargs)


async def collect_garbage(db: Database, store: BlobStore, options: GcOptions = GcOptions(),
                          lease: Lease | None = None) -> GcReport:
    """One run (the caller holds `lease`, if given, which is renewed as the run goes)."""
    started = time.monotonic()
    report = GcReport(options.dry_run)
    try:
        if options.dry_run:
            try:
                async with db.write() as session:
                    await _steps(_Transactions(db, None, session), None, options, report)
                    raise _DryRun
            except _DryRun:
                pass
        else:
            await _steps(_Transactions(db, lease, None), store, options, report)
    except BaseException:
        metrics.record_gc_run(ok=False)
        raise
    metrics.record_gc_run(ok=True)
    report.seconds = time.monotonic() - started
    return report


async def collect_if_free(db: Database, store: BlobStore, options: GcOptions) -> GcReport | None:
    """A run if no other process is running one (the periodic task of every worker); None otherwise."""
    lease = Lease(db)
    if not await lease.acquire():
        return None
    try:
        return await collect_garbage(db, store, options, lease)
    finally:
        await lease.release()


async def _steps(transactions: _Transactions, store: BlobStore | None, options: GcOptions,
                 report: GcReport) -> None:
    now = utcnow()
    cutoff = now - options.grace
    for repository_id in await transactions.run(retention.repositories_with_policies):
        tags, released = await transactions.run(retention.apply, repository_id, now)
        report.tags_deleted += tags
        # The manifests whose last tag retention deleted go now: the grace period protects pushes in
        # progress, and these were pushed and tagged long ago.
        after: int | None = 0
        while released and after is not None:
            deleted, after = await transactions.run(gc_sweep.delete_manifest_batch, now, after, options.batch,
                                                    only=released)
            report.manifests_deleted += deleted
    while options.delete_untagged:  # passes until one deletes nothing: an index's children come next
        before = report.manifests_deleted
        after = 0
        while after is not None:
            deleted, after = await transactions.run(gc_sweep.delete_manifest_batch, cutoff, after, options.batch)
            report.manifests_deleted += deleted
        if report.manifests_deleted == before:
            break
    link: gc_sweep.LinkKey | None = None
    while True:
        removed, link = await transactions.run(gc_sweep.unlink_batch, cutoff, link, options.batch)
        report.links_removed += removed
        if link is None:
            break
    digest: str | None = None
    while True:
        deleted_blobs, skipped, digest = await transactions.run(gc_sweep.delete_blob_batch, store, digest,
                                                                options.blob_batch)
        report.blobs_deleted += len(deleted_blobs)
        report.bytes_freed += sum(size for _, size in deleted_blobs)
        report.blobs_skipped += skipped
        if digest is None:
            break
