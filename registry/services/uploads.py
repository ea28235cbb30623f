"""Blob uploads (distribution-spec "Pushing blobs"): sessions in the database, bytes in the store.

Any worker or replica may serve any request of an upload, so all its state lives in the `upload` row:
the size stored so far, the running sha256 of those bytes (resumable, services/hashstate.py) and the
store's own state (S3: the multipart upload and its parts). One request at a time may change an upload:
it holds the row's lease, taken with one conditional UPDATE and renewed while it works, so a replica
that dies mid-request blocks the upload only until the lease lapses. This is the lock for every store.
A worker that wrote the previous chunk keeps its hasher in memory, which saves resuming it; nothing
depends on that.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select, update

from .. import errors
from ..db import Database, Upload
from ..db.database import rowcount
from ..db.models import utcnow
from ..oci.digest import Digest
from ..storage import BlobStore, UploadConflict, UploadMissing, UploadProgress
from .blobs import link_blob
from .hashstate import ResumableSha256
from .quotas import require_room

log = logging.getLogger("berth.uploads")
LEASE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class UploadState:
    id: str
    repository: str
    size: int


class _Hashers:
    """Running sha256 hashers of recent uploads in this process, keyed by (upload id, size hashed)."""

    def __init__(self, capacity: int = 256) -> None:
        self._entries: OrderedDict[str, tuple[int, ResumableSha256]] = OrderedDict()
        self._capacity = capacity

    def take(self, row: Upload) -> ResumableSha256 | None:
        """This process's hasher of the row's bytes, else the one the row saved, else None."""
        entry = self._entries.pop(row.id, None)
        if entry and entry[0] == row.size:
            return entry[1]
        return ResumableSha256.resume(row.hash_state) if row.hash_state else None

    def keep(self, upload_id: str, size: int, hasher: ResumableSha256) -> None:
        self._entries[upload_id] = (size, hasher)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def drop(self, upload_id: str) -> None:
        self._entries.pop(upload_id, None)


class _Lease:
    """A held upload row. Writing stops once half the lease has passed without a renewal: by then another
    replica (whose clock may be ahead of ours) could think it lapsed."""

    def __init__(self, row: Upload, token: str, seconds: float) -> None:
        self.row, self.token, self.seconds = row, token, seconds
        self.renewed = time.monotonic()
        self.lost = False

    def check(self) -> None:
        if self.lost or time.monotonic() - self.renewed > self.seconds / 2:
            raise errors.BlobUploadInvalid("this request lost the upload to another one",
                                           detail={"uuid": self.row.id})

    async def guard(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.check()
            yield chunk


class UploadService:
    def __init__(self, db: Database, store: BlobStore, lease_seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.store = store
        self.lease_seconds = lease_seconds
        self._hashers = _Hashers()

    async def start(self, repository: str) -> UploadState:
        upload_id = str(uuid.uuid4())
        async with self.db.write() as session:
            session.add(Upload(id=upload_id, repository=repository, size=0, store_state="",
                               hash_state=ResumableSha256().save()))
        await self.store.start_upload(upload_id)
        return UploadState(upload_id, repository, 0)

    async def status(self, repository: str, upload_id: str) -> UploadState:
        async with self.db.read() as session:
            row = await session.get(Upload, upload_id)
        if row is None or row.repository != repository:
            raise errors.BlobUploadUnknown(detail={"uuid": upload_id})
        return UploadState(upload_id, repository, row.size)

    async def append(self, repository: str, upload_id: str, chunks: AsyncIterable[bytes],
                     start: int | None = None, length: int | None = None) -> UploadState:
        """Add a chunk. `start` and `length` come from Content-Range when the client sent one."""
        async with self._leased(repository, upload_id) as lease:
            await self._write(lease, chunks, start, length)
        return UploadState(upload_id, repository, lease.row.size)

    async def finish(self, repository: str, upload_id: str, digest: Digest,
                     chunks: AsyncIterable[bytes] | None = None, start: int | None = None,
                     length: int | None = None) -> None:
        """Close the upload: add the last chunk, verify `digest`, make the blob readable in `repository`."""
        async with self._leased(repository, upload_id) as lease:
            row = lease.row
            hasher = await self._write(lease, chunks, start, length) if chunks is not None else self._hashers.take(row)
            progress = UploadProgress(row.size, row.store_state)
            if digest.algorithm == "sha256" and hasher is not None:
                actual = hasher.hexdigest()
            else:
                actual = await self._digest_of(upload_id, progress, digest)
            if actual != digest.encoded:
                await self._discard(upload_id)
                raise errors.DigestInvalid(detail={"digest": str(digest)})
            try:  # before the bytes are committed, so a refused blob leaves nothing in the store
                async with self.db.read() as session:
                    await require_room(session, repository, digest, row.size, lock=False)
            except errors.Denied:
                await self._discard(upload_id)
                raise
            lease.check()
            location = await self.store.commit_upload(upload_id, progress, digest)
            # If this fails, the upload's row stays and its purge deletes the committed copy.
            async with self.db.write() as session:
                kept = await link_blob(session, repository, digest, row.size, location)
                await session.execute(delete(Upload).where(Upload.id == upload_id))
        self._hashers.drop(upload_id)
        if location and kept != location:  # the blob was there already: this upload's own copy is not needed
            try:
                await self.store.delete_blob(digest, location=location)
            except Exception:  # the push succeeded all the same; the copy is left unreferenced, costing space
                log.exception("cannot delete the redundant copy of %s at %s", digest, location)

    async def cancel(self, repository: str, upload_id: str) -> None:
        async with self._leased(repository, upload_id):
            await self._discard(upload_id)

    async def purge_idle(self, older_than: timedelta) -> int:
        """Drop uploads untouched for `older_than`, with their scratch data (S3: multipart uploads too)."""
        cutoff = utcnow() - older_than
        async with self.db.read() as session:
            stale = list(await session.scalars(select(Upload.id).where(Upload.updated_at < cutoff)))
        purged = 0
        for upload_id in stale:
            try:
                async with self._leased(None, upload_id):
                    await self._discard(upload_id)
            except errors.BlobUploadInvalid:
                continue  # being written right now: not idle after all
            except errors.BlobUploadUnknown:
                continue  # finished or purged by another worker meanwhile
            purged += 1
        return purged

    # -- internals -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _leased(self, repository: str | None, upload_id: str) -> AsyncIterator[_Lease]:
        """Hold the upload's lease (renewed in the background) and yield the row as it stands."""
        lease = await self._acquire(repository, upload_id)
        renewing = asyncio.create_task(self._renew(lease))
        try:
            yield lease
        except UploadMissing:
            raise errors.BlobUploadUnknown(detail={"uuid": upload_id}) from None
        except UploadConflict:
            raise errors.BlobUploadInvalid("another request is writing to this upload",
                                           detail={"uuid": upload_id}) from None
        finally:
            renewing.cancel()
            with suppress(asyncio.CancelledError):
                await renewing
            async with self.db.write() as session:  # a no-op when the upload is gone or the lease lost
                await session.execute(update(Upload).where(Upload.id == upload_id, Upload.lease_token == lease.token)
                                      .values(lease_token=None, lease_expires_at=None))

    async def _acquire(self, repository: str | None, upload_id: str) -> _Lease:
        token, now = secrets.token_hex(16), utcnow()
        which = [Upload.id == upload_id] + ([Upload.repository == repository] if repository is not None else [])
        async with self.db.write() as session:
            taken = await session.execute(
                update(Upload).where(*which, or_(Upload.lease_token.is_(None), Upload.lease_expires_at < now))
                .values(lease_token=token, lease_expires_at=now + timedelta(seconds=self.lease_seconds)))
            row = (await session.scalars(select(Upload).where(*which))).one_or_none()
        if row is None:
            raise errors.BlobUploadUnknown(detail={"uuid": upload_id})
        if rowcount(taken) == 0:
            raise errors.BlobUploadInvalid("another request is writing to this upload", detail={"uuid": upload_id})
        return _Lease(row, token, self.lease_seconds)

    async def _renew(self, lease: _Lease) -> None:
        while not lease.lost:
            await asyncio.sleep(self.lease_seconds / 6)
            sent = time.monotonic()
            try:
                async with self.db.write() as session:
                    renewed = await session.execute(
                        update(Upload).where(Upload.id == lease.row.id, Upload.lease_token == lease.token)
                        .values(lease_expires_at=utcnow() + timedelta(seconds=self.lease_seconds)))
            except Exception:
                log.exception("renewing the lease of upload %s failed; will retry", lease.row.id)
                continue
            if rowcount(renewed) == 0:
                lease.lost = True
            else:
                lease.renewed = sent

    async def _write(self, lease: _Lease, chunks: AsyncIterable[bytes], start: int | None,
                     length: int | None) -> ResumableSha256 | None:
        """Append and record the new progress; returns the hasher of all bytes when there is one."""
        row = lease.row
        if start is not None and start != row.size:
            raise errors.RangeNotSatisfiable(detail={"uuid": row.id, "offset": row.size})
        hasher = self._hashers.take(row)
        progress = await self.store.append_upload(row.id, UploadProgress(row.size, row.store_state),
                                                  lease.guard(chunks), hasher.update if hasher else _ignore)
        if length is not None and progress.size - row.size != length:
            # Nothing recorded: the recorded progress stands and the stray bytes are superseded.
            raise errors.SizeInvalid(f"Content-Range announced {length} bytes, the body had {progress.size - row.size}")
        lease.check()
        hash_state = hasher.save() if hasher else None
        async with self.db.write() as session:
            recorded = await session.execute(
                update(Upload).where(Upload.id == row.id, Upload.lease_token == lease.token).values(
                    size=progress.size, store_state=progress.state, hash_state=hash_state, updated_at=utcnow()))
        if rowcount(recorded) == 0:
            lease.lost = True
            lease.check()
        row.size, row.store_state, row.hash_state = progress.size, progress.state, hash_state
        if hasher:
            self._hashers.keep(row.id, row.size, hasher)
        return hasher

    async def _digest_of(self, upload_id: str, progress: UploadProgress, digest: Digest) -> str:
        hasher = digest.hasher()
        async for chunk in self.store.read_upload(upload_id, progress):
            hasher.update(chunk)
        return hasher.hexdigest()

    async def _discard(self, upload_id: str) -> None:
        self._hashers.drop(upload_id)
        await self.store.cancel_upload(upload_id)
        async with self.db.write() as session:
            await session.execute(delete(Upload).where(Upload.id == upload_id))


def _ignore(_chunk: bytes) -> None:
    pass
