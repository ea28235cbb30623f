"""Blob uploads (distribution-spec "Pushing blobs"): sessions in the database, bytes in the store.

Any worker or replica may serve any request of an upload, so its state lives in the `upload` row: the
size stored so far and, when known, the sha256 of those bytes. A worker that wrote the previous chunk
keeps its running hasher, so the common flows (one PATCH or one PUT with the body) hash every byte once
while it streams; otherwise the digest is computed from the stored bytes when the upload is closed.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from .. import errors
from ..db import Database, Upload
from ..db.models import utcnow
from ..oci.digest import Digest
from ..storage import BlobStore, UploadConflict, UploadMissing
from .blobs import link_blob

EMPTY_SHA256 = hashlib.sha256().hexdigest()


@dataclass(frozen=True, slots=True)
class UploadState:
    id: str
    repository: str
    size: int


class _Hashers:
    """Running sha256 hashers of recent uploads in this process, keyed by (upload id, size hashed)."""

    def __init__(self, capacity: int = 256) -> None:
        self._entries: OrderedDict[str, tuple[int, hashlib._Hash]] = OrderedDict()
        self._capacity = capacity

    def take(self, upload_id: str, size: int) -> hashlib._Hash | None:
        entry = self._entries.pop(upload_id, None)
        if size == 0:
            return hashlib.sha256()
        return entry[1] if entry and entry[0] == size else None

    def keep(self, upload_id: str, size: int, hasher: hashlib._Hash) -> None:
        self._entries[upload_id] = (size, hasher)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def drop(self, upload_id: str) -> None:
        self._entries.pop(upload_id, None)


class UploadService:
    def __init__(self, db: Database, store: BlobStore) -> None:
        self.db = db
        self.store = store
        self._hashers = _Hashers()

    async def start(self, repository: str) -> UploadState:
        upload_id = str(uuid.uuid4())
        async with self.db.write() as session:
            session.add(Upload(id=upload_id, repository=repository, size=0, sha256=EMPTY_SHA256))
        await self.store.start_upload(upload_id)
        return UploadState(upload_id, repository, 0)

    async def status(self, repository: str, upload_id: str) -> UploadState:
        async with self.db.read() as session:
            row = await self._row(session, repository, upload_id)
        return UploadState(upload_id, repository, row.size)

    async def append(self, repository: str, upload_id: str, chunks: AsyncIterable[bytes],
                     start: int | None = None, length: int | None = None) -> UploadState:
        """Add a chunk. `start` and `length` come from Content-Range when the client sent one."""
        async with self._locked(repository, upload_id) as row:
            size, _ = await self._write(row, chunks, start, length)
        return UploadState(upload_id, repository, size)

    async def finish(self, repository: str, upload_id: str, digest: Digest,
                     chunks: AsyncIterable[bytes] | None = None, start: int | None = None,
                     length: int | None = None) -> None:
        """Close the upload: add the last chunk, verify `digest`, make the blob readable in `repository`."""
        async with self._locked(repository, upload_id) as row:
            size, sha256 = row.size, row.sha256
            if chunks is not None:
                size, sha256 = await self._write(row, chunks, start, length)
            actual = sha256 if digest.algorithm == "sha256" and sha256 else await self._digest_of(
                upload_id, size, digest)
            if actual != digest.encoded:
                await self._discard(upload_id)
                raise errors.DigestInvalid(detail={"digest": str(digest)})
            await self.store.commit_upload(upload_id, size, digest)
            async with self.db.write() as session:
                await link_blob(session, repository, digest, size)
                await session.execute(delete(Upload).where(Upload.id == upload_id))
        self._hashers.drop(upload_id)

    async def cancel(self, repository: str, upload_id: str) -> None:
        async with self._locked(repository, upload_id):
            await self._discard(upload_id)

    async def purge_idle(self, older_than: timedelta) -> int:
        """Drop uploads untouched for `older_than`, with their scratch data. Returns how many."""
        cutoff = utcnow() - older_than
        async with self.db.read() as session:
            stale = list(await session.scalars(select(Upload.id).where(Upload.updated_at < cutoff)))
        purged = 0
        for upload_id in stale:
            try:
                async with self.store.lock_upload(upload_id):
                    await self._discard(upload_id)
            except UploadConflict:
                continue  # being written right now: not idle after all
            except UploadMissing:
                await self._discard(upload_id)
            purged += 1
        return purged

    # -- internals -------------------------------------------------------------------------------

    @staticmethod
    async def _row(session, repository: str, upload_id: str) -> Upload:  # type: ignore[no-untyped-def]
        row = await session.get(Upload, upload_id)
        if row is None or row.repository != repository:
            raise errors.BlobUploadUnknown(detail={"uuid": upload_id})
        return row

    @asynccontextmanager
    async def _locked(self, repository: str, upload_id: str) -> AsyncIterator[Upload]:
        """Hold the upload's lock and yield its row as it stands under the lock."""
        try:
            async with self.store.lock_upload(upload_id):
                async with self.db.read() as session:
                    row = await self._row(session, repository, upload_id)
                yield row
        except UploadMissing:
            raise errors.BlobUploadUnknown(detail={"uuid": upload_id}) from None
        except UploadConflict:
            raise errors.BlobUploadInvalid("another request is writing to this upload",
                                           detail={"uuid": upload_id}) from None

    async def _write(self, row: Upload, chunks: AsyncIterable[bytes], start: int | None,
                     length: int | None) -> tuple[int, str | None]:
        """Append under the lock; returns the new size and the sha256 of all bytes when known."""
        if start is not None and start != row.size:
            raise errors.RangeNotSatisfiable(detail={"uuid": row.id, "offset": row.size})
        hasher = self._hashers.take(row.id, row.size)
        size = await self.store.append_upload(row.id, row.size, chunks,
                                              hasher.update if hasher else _ignore)
        if length is not None and size - row.size != length:
            # Nothing recorded: the size stays put and the stray bytes are dropped by the next write.
            raise errors.SizeInvalid(f"Content-Range announced {length} bytes, the body had {size - row.size}")
        sha256 = hasher.copy().hexdigest() if hasher else None
        async with self.db.write() as session:
            await session.execute(update(Upload).where(Upload.id == row.id).values(
                size=size, sha256=sha256, updated_at=utcnow()))
        if hasher:
            self._hashers.keep(row.id, size, hasher)
        return size, sha256

    async def _digest_of(self, upload_id: str, size: int, digest: Digest) -> str:
        hasher = digest.hasher()
        async for chunk in self.store.read_upload(upload_id, size):
            hasher.update(chunk)
        return hasher.hexdigest()

    async def _discard(self, upload_id: str) -> None:
        self._hashers.drop(upload_id)
        await self.store.cancel_upload(upload_id)
        async with self.db.write() as session:
            await session.execute(delete(Upload).where(Upload.id == upload_id))


def _ignore(_chunk: bytes) -> None:
    pass
