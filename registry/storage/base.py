"""The BlobStore protocol: what the registry needs from a place that keeps bytes.

The store knows nothing of repositories or of which blobs are visible: the database decides that. A blob
exists in the store only after `commit_upload` has made it durable under its digest, so a crash at any
moment leaves either nothing or a whole blob (which stays invisible until the database links it).
Upload scratch data is written only while `lock_upload` is held, and the holder records the new size in
the database before releasing it: so the size and digest the database holds always describe the bytes.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Protocol

from ..oci.digest import Digest


class UploadMissing(Exception):
    """The upload's scratch data is gone (purged, cancelled or never created)."""


class UploadConflict(Exception):
    """Another request holds the upload right now."""


class BlobStore(Protocol):
    async def start_upload(self, upload_id: str) -> None:
        """Create empty scratch data for a new upload."""

    def lock_upload(self, upload_id: str) -> AbstractAsyncContextManager[None]:
        """Exclusive use of an upload's scratch data across processes, without waiting.

        Raises UploadMissing when there is no such upload, UploadConflict when another holder has it.
        """

    async def append_upload(self, upload_id: str, offset: int, chunks: AsyncIterable[bytes],
                            on_chunk: Callable[[bytes], None]) -> int:
        """Write `chunks` at `offset`, dropping anything stored past it, and return the new size.

        `offset` is the size the database recorded; bytes beyond it (from a writer that died before the
        database caught up) are discarded. Each chunk goes to `on_chunk` (a hasher) as it is written.
        Call only while holding `lock_upload`.
        """

    def read_upload(self, upload_id: str, size: int) -> AsyncIterator[bytes]:
        """Stream the first `size` bytes of an upload (to compute a digest nobody kept)."""

    async def commit_upload(self, upload_id: str, size: int, digest: Digest) -> None:
        """Make the first `size` bytes of the upload the blob `digest`, durably; drop the scratch data.

        The caller holds the lock and has verified the digest. If the store already has the digest, the
        old copy stays (it has the same bytes).
        """

    async def cancel_upload(self, upload_id: str) -> None:
        """Drop an upload's scratch data. Safe for unknown or committed uploads."""

    def blob_path(self, digest: Digest) -> Path | None:
        """A local file holding the blob, to send with sendfile; None when the store is not local."""

    def read_blob(self, digest: Digest, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes [start, end) of a stored blob."""

    async def delete_blob(self, digest: Digest) -> None:
        """Remove a blob's bytes (garbage collection only). Safe for unknown digests."""
