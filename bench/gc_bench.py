"""bench: online garbage collection of 10,000 unreferenced blobs (services/gc.py), timed.

    .venv/bin/python bench/gc_bench.py                          # filesystem store and SQLite in a temp dir
    .venv/bin/python bench/gc_bench.py --blobs 2000 --dry-run-too
    .venv/bin/python bench/gc_bench.py --storage-url s3://bucket/prefix --database-url postgresql+asyncpg://...

The blobs are written through the BlobStore protocol (so any store a URL names works), linked to one
repository in the database as a push would, and aged past the grace period; nothing references them.
Then one collection removes every link, row and byte. Prints the setup time, the collection's time and
its rate, and checks that nothing is left.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select  # noqa: E402

from registry.db import Database  # noqa: E402
from registry.db.migrate import migrate  # noqa: E402
from registry.db.models import Blob, RepositoryBlob, utcnow  # noqa: E402
from registry.oci.digest import Digest  # noqa: E402
from registry.services.gc import GcOptions, collect_garbage  # noqa: E402
from registry.services.repositories import ensure_repository  # noqa: E402
from registry.storage import BlobStore, UploadProgress, open_blob_store  # noqa: E402

WRITERS = 16


async def _chunks(data: bytes):  # type: ignore[no-untyped-def]
    yield data


async def write_blobs(store: BlobStore, count: int, size: int) -> list[tuple[str, int]]:
    """`count` random blobs of `size` bytes, committed through the store's upload protocol."""
    gate, blobs = asyncio.Semaphore(WRITERS), []

    async def write_one() -> None:
        data = os.urandom(size)
        digest = Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())
        upload_id = str(uuid.uuid4())
        async with gate:
            await store.start_upload(upload_id)
            progress = await store.append_upload(upload_id, UploadProgress(), _chunks(data), lambda _: None)
            await store.commit_upload(upload_id, progress, digest)
        blobs.append((str(digest), size))
    await asyncio.gather(*(write_one() for _ in range(count)))
    return blobs


async def link_aged(db: Database, blobs: list[tuple[str, int]]) -> None:
    """Link every blob into one repository, two hours ago (past the default one-hour grace)."""
    then = utcnow() - timedelta(hours=2)
    async with db.write() as session:
        repository_id = await ensure_repository(session, "bench/gc")
        for start in range(0, len(blobs), 1000):
            batch = blobs[start:start + 1000]
            await session.execute(insert(Blob), [{"digest": d, "size": s, "created_at": then} for d, s in batch])
            await session.execute(insert(RepositoryBlob), [
                {"repository_id": repository_id, "digest": d, "created_at": then, "linked_at": then}
                for d, _ in batch])


async def bench(args: argparse.Namespace, scratch: Path) -> int:
    storage_url = args.storage_url or (scratch / "blobs").as_uri()
    database_url = args.database_url or f"sqlite+aiosqlite:///{scratch / 'registry.db'}"
    await asyncio.to_thread(migrate, database_url)
    store, db = open_blob_store(storage_url), Database(database_url)
    try:
        started = time.perf_counter()
        blobs = await write_blobs(store, args.blobs, args.size)
        await link_aged(db, blobs)
        print(f"setup: {len(blobs)} blobs of {args.size} bytes in {time.perf_counter() - started:.1f} s "
              f"({storage_url.split('://')[0]} store, {db.engine.dialect.name})")
        if args.dry_run_too:
            dry = await collect_garbage(db, store, GcOptions(dry_run=True))
            print(f"dry run: {dry.summary()}")
        report = await collect_garbage(db, store, GcOptions())
        print(f"gc: {report.summary()}")
        print(f"gc: {report.seconds:.2f} s, {report.blobs_deleted / max(report.seconds, 1e-9):,.0f} blobs/s")
        async with db.read() as session:
            left = await session.scalar(select(func.count()).select_from(Blob))
        path = store.blob_path(Digest.parse(blobs[0][0]))
        if left or report.blobs_deleted != len(blobs) or (path is not None and path.exists()):
            print(f"FAILED: {left} blob rows left, {report.blobs_deleted} of {len(blobs)} deleted", file=sys.stderr)
            return 1
        return 0
    finally:
        await store.close()
        await db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blobs", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024, help="bytes per blob (default 1024)")
    parser.add_argument("--storage-url", help="file:///path or s3://bucket/prefix (default: a temporary directory)")
    parser.add_argument("--database-url", help="an SQLAlchemy async URL (default: SQLite in a temporary directory)")
    parser.add_argument("--dry-run-too", action="store_true", help="time a dry run first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="berth-gc-bench-") as scratch:
        return asyncio.run(bench(args, Path(scratch)))


if __name__ == "__main__":
    sys.exit(main())
