"""The BlobStore protocol: what the registry needs from a place that keeps bytes.

The store knows nothing of repositories or of which blobs are visible: the database decides that. A blob
exists in the store only after `commit_upload` has made it durable, so a crash at any moment leaves either
nothing or a whole blob (which stays invisible until the database links it).

Where a blob lives: by default under its digest. A store may instead leave a committed upload where it was
written and return that *location* (an opaque string, "" for the digest's own place); the database keeps it
in the blob's row and every later read or delete passes it back. S3 does so because an object's key is
fixed before the digest is known, and a server-side copy to the digest's key costs as much as the upload.

Uploads: the database row of an upload records an `UploadProgress` (its size and the store's own opaque
state) and is the only truth about it, so any process or replica can continue it. Callers serialize the
use of one upload (UploadService holds a lease in the database, the one lock for every store) and record
each progress `append_upload` returns before the next call. A progress that was never recorded (its
writer died, or lost its lease) is superseded by the next append from the recorded one: stores must keep
the recorded bytes intact until then, whatever a stray writer does.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..oci.digest import Digest


class UploadMissing(Exception):
    """The upload's scratch data is gone (purged, cancelled or never created)."""


class UploadConflict(Exception):
    """Another writer is using the upload's scratch data right now (a store may detect it, not must)."""


@dataclass(frozen=True, slots=True)
class UploadProgress:
    """Where an upload stands: `size` bytes stored, and what the store needs to continue from there."""
    size: int = 0
    state: str = ""  # opaque to callers; "" for a new upload


class BlobStore(Protocol):
    async def start_upload(self, upload_id: str) -> None:
        """Create empty scratch data for a new upload (its progress is `UploadProgress()`)."""

    async def append_upload(self, upload_id: str, progress: UploadProgress, chunks: AsyncIterable[bytes],
                            on_chunk: Callable[[bytes], None]) -> UploadProgress:
        """Write `chunks` after the `progress.size` bytes recorded, and return the progress to record.

        Bytes beyond the recorded progress (from a writer that died before the database caught up) are
        discarded. Each chunk goes to `on_chunk` (a hasher) as it is written. When `chunks` raises, the
        error propagates and the recorded progress stays valid.
        """

    def read_upload(self, upload_id: str, progress: UploadProgress) -> AsyncIterator[bytes]:
        """Stream the upload's bytes (to compute a digest nobody kept).

        A store may seal the upload to read it: afterwards only `commit_upload` or `cancel_upload`.
        """

    async def commit_upload(self, upload_id: str, progress: UploadProgress, digest: Digest) -> str:
        """Make the upload's bytes the blob `digest`, durably; drop the scratch data; return the blob's location.

        The caller has verified the digest. At the digest's own place (location ""), if the store already
        has the digest, the old copy stays (it has the same bytes). At a location of the upload's own, the
        caller records it or deletes the blob there. Raises UploadConflict when it can tell the bytes are not
        the recorded ones.
        """

    async def cancel_upload(self, upload_id: str) -> None:
        """Drop all of an upload's scratch data, recorded or stray, and a blob it left at a location of its own
        (the caller cancels only uploads whose blob no row records). Safe for unknown uploads."""

    def blob_path(self, digest: Digest) -> Path | None:
        """A local file holding the blob, to send with sendfile; None when the store is not local."""

    async def blob_url(self, digest: Digest, *, location: str = "") -> str | None:
        """A URL clients may GET the blob from themselves (presigned, expiring); None to serve it ourselves."""

    def read_blob(self, digest: Digest, start: int = 0, end: int | None = None, *,
                  location: str = "") -> AsyncGenerator[bytes, None]:
        """Stream bytes [start, end) of a stored blob."""

    async def delete_blob(self, digest: Digest, *, location: str = "") -> None:
        """Remove a blob's bytes (garbage collection, or a redundant copy). Safe for unknown digests."""

    async def check(self) -> None:
        """Raise when the store cannot be reached now (readiness probes bound it with a timeout)."""

    async def close(self) -> None:
        """Release connections. The store is not used afterwards."""
