"""UploadService's lease (the one lock of every store) and its resumable hash, across service instances.

Two UploadService instances on one database stand for two replicas: they share nothing in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from registry import errors
from registry.db import Database, Upload
from registry.db.migrate import migrate
from registry.db.models import utcnow
from registry.oci.digest import Digest
from registry.services.uploads import UploadService
from registry.storage import FilesystemBlobStore, UploadProgress
from tests.support import databases


class NoRereads(FilesystemBlobStore):
    """A store that fails the test if anyone reads an upload back to hash it."""

    def read_upload(self, upload_id: str, progress: UploadProgress) -> AsyncIterator[bytes]:
        raise AssertionError("the upload was read back to compute its digest")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = databases.database_url(tmp_path)  # the run's database: SQLite, or PostgreSQL where replicas are real
    await asyncio.to_thread(migrate, url)
    database = Database(url)
    yield database
    await database.close()


def _replicas(db: Database, tmp_path: Path, lease_seconds: float = 60.0) -> tuple[UploadService, UploadService]:
    return (UploadService(db, NoRereads(tmp_path / "store"), lease_seconds),
            UploadService(db, NoRereads(tmp_path / "store"), lease_seconds))


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_the_running_hash_moves_between_replicas_without_rereading(db: Database, tmp_path: Path):
    first, second = _replicas(db, tmp_path)
    upload = await first.start("lease/hash")
    await first.append("lease/hash", upload.id, _chunks(b"a" * 1000, b"b" * 77))
    await second.append("lease/hash", upload.id, _chunks(b"c" * 5000), start=1077, length=5000)
    await first.append("lease/hash", upload.id, _chunks(b"d"))
    data = b"a" * 1000 + b"b" * 77 + b"c" * 5000 + b"d"
    await second.finish("lease/hash", upload.id, Digest.parse("sha256:" + hashlib.sha256(data).hexdigest()))


async def test_one_request_at_a_time_across_replicas(db: Database, tmp_path: Path):
    first, second = _replicas(db, tmp_path)
    upload = await first.start("lease/busy")
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"first half"
        arrived.set()
        await release.wait()
        yield b" second half"

    writing = asyncio.create_task(first.append("lease/busy", upload.id, slow()))
    await arrived.wait()
    with pytest.raises(errors.BlobUploadInvalid, match="another request"):
        await second.append("lease/busy", upload.id, _chunks(b"intruder"))
    assert await second.purge_idle(timedelta(0)) == 0  # busy: not idle, whatever updated_at says
    release.set()
    assert (await writing).size == len(b"first half second half")
    assert (await second.append("lease/busy", upload.id, _chunks(b"!"))).size == len(b"first half second half!")


async def test_a_dead_replicas_lease_lapses(db: Database, tmp_path: Path):
    first, second = _replicas(db, tmp_path)
    upload = await first.start("lease/dead")
    await _hold(db, upload.id, timedelta(seconds=30))  # a replica took it and died
    with pytest.raises(errors.BlobUploadInvalid):
        await second.append("lease/dead", upload.id, _chunks(b"x"))
    await _hold(db, upload.id, timedelta(seconds=-1))  # ... and its lease has run out
    assert (await second.append("lease/dead", upload.id, _chunks(b"x"))).size == 1


async def test_a_request_that_lost_its_lease_records_nothing(db: Database, tmp_path: Path):
    first, second = _replicas(db, tmp_path)
    upload = await first.start("lease/lost")
    await first.append("lease/lost", upload.id, _chunks(b"kept"))

    async def overtaken() -> AsyncIterator[bytes]:
        yield b" lost"
        await _hold(db, upload.id, timedelta(seconds=30))  # another replica took over meanwhile

    with pytest.raises(errors.BlobUploadInvalid, match="lost the upload"):
        await first.append("lease/lost", upload.id, overtaken())
    assert (await second.status("lease/lost", upload.id)).size == 4


async def test_a_lease_is_renewed_while_a_long_request_works(db: Database, tmp_path: Path):
    first, second = _replicas(db, tmp_path, lease_seconds=0.6)
    upload = await first.start("lease/long")

    async def slow() -> AsyncIterator[bytes]:
        for _ in range(6):  # 1.2 s: twice the lease, renewed every 0.1 s
            await asyncio.sleep(0.2)
            yield b"x"

    writing = asyncio.create_task(first.append("lease/long", upload.id, slow()))
    await asyncio.sleep(0.9)
    with pytest.raises(errors.BlobUploadInvalid, match="another request"):
        await second.append("lease/long", upload.id, _chunks(b"intruder"))
    assert (await writing).size == 6


async def _hold(db: Database, upload_id: str, expires_in: timedelta) -> None:
    async with db.write() as session:
        await session.execute(update(Upload).where(Upload.id == upload_id).values(
            lease_token="someone-else", lease_expires_at=utcnow() + expires_in))
