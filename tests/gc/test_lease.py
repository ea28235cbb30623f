"""The collector's lease: one holder at a time across processes, free again when the holder stops
renewing it, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from registry.db import Database
from registry.services.gc import GcOptions, collect_if_free
from registry.services.gc_lease import Lease

from .conftest import GcRegistry


async def test_one_holder_at_a_time_until_it_releases(gc_registry: GcRegistry):
    first, second = Lease(gc_registry.db), Lease(gc_registry.db)
    assert await first.acquire()
    assert await first.acquire()  # taking it again is renewing it
    assert not await second.acquire()
    held = await second.current()
    assert held is not None and held[0] == first.holder
    await first.release()
    assert await second.current() is None
    assert await second.acquire()
    assert not await first.renew()


async def test_a_holder_that_stops_renewing_loses_the_lease_when_it_expires(gc_registry: GcRegistry):
    short = timedelta(seconds=0.3)
    dead, other = Lease(gc_registry.db, ttl=short), Lease(gc_registry.db, ttl=short)
    assert await dead.acquire()
    assert not await other.acquire()
    await asyncio.sleep(0.4)
    assert await other.acquire()
    assert not await dead.renew()  # it comes back to life: the lease is no longer its own


async def test_of_many_processes_taking_it_at_once_exactly_one_gets_it(gc_registry: GcRegistry):
    """Each taker has its own engine, as workers and replicas do."""
    databases = [Database(gc_registry.settings.database_url) for _ in range(8)]
    try:
        for _ in range(3):
            leases = [Lease(db) for db in databases]
            taken = await asyncio.gather(*(lease.acquire() for lease in leases))
            assert sum(taken) == 1
            await leases[taken.index(True)].release()
    finally:
        for db in databases:
            await db.close()


async def test_the_periodic_collection_skips_while_another_process_collects(gc_registry: GcRegistry):
    from registry import keys
    store = gc_registry.client.app[keys.blob_store]
    holder = Lease(gc_registry.db)
    assert await holder.acquire()
    assert await collect_if_free(gc_registry.db, store, GcOptions()) is None
    await holder.release()
    report = await collect_if_free(gc_registry.db, store, GcOptions())
    assert report is not None and not report.dry_run
    assert await holder.current() is None  # released after the run
