"""The read path of pulls: manifest and blob lookups, answered from memory while the database is unchanged."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from ..db.readpath import Reader
from ..oci.digest import Digest
from ..storage import BlobStore
from . import manifests
from .blobs import linked_blob_query
from .cache import Lru, ReadCache
from .manifests import StoredManifest

SMALL_BLOB = 64 * 1024  # blobs up to this size are served from memory (configs, small layers)


@dataclass(frozen=True, slots=True)
class BlobInfo:
    size: int
    # Manifests are content-addressed too and can be fetched through the blob endpoint, as with
    # distribution; their bytes live in the database, not in the blob store.
    content: bytes | None = None


def _size(found: StoredManifest | BlobInfo) -> int:
    return 200 + len(found.content or b"")


class PullService:
    def __init__(self, cache: ReadCache, store: BlobStore, budget: int = 64 * 1024 * 1024) -> None:
        self.cache, self.store = cache, store
        self._contents = Lru(budget)  # small blob bytes by digest: immutable, valid forever

    async def _manifest(self, repository: str, reference: Digest | str) -> StoredManifest | None:
        async def query(reader: Reader) -> StoredManifest | None:
            row = (await reader.execute(manifests.manifest_query(repository, reference))).first()
            return StoredManifest(row[0], row[1], row[2]) if row else None
        return await self.cache.lookup(("manifest", repository, reference), query, _size)

    async def manifest(self, repository: str, reference: Digest | str,
                       accept: Collection[str] = ()) -> StoredManifest:
        return await manifests.resolve_manifest(lambda ref: self._manifest(repository, ref), reference, accept)

    async def blob(self, repository: str, digest: Digest) -> BlobInfo | None:
        async def query(reader: Reader) -> BlobInfo | None:
            size = await reader.scalar(linked_blob_query(repository, digest))
            return BlobInfo(size) if size is not None else None
        found = await self.cache.lookup(("blob", repository, digest), query, _size)
        if found is None:
            manifest = await self._manifest(repository, digest)
            found = BlobInfo(len(manifest.content), manifest.content) if manifest else None
        return found

    def small_blob(self, digest: Digest, size: int) -> bytes | None:
        """The bytes of a small stored blob, from memory or a quick local read; None for big blobs."""
        if size > SMALL_BLOB:
            return None
        content = self._contents.get(digest)
        if content is None:
            path = self.store.blob_path(digest)
            if path is None:
                return None
            try:
                with open(path, "rb") as f:  # a page-cache read of a few KB: cheaper than a thread hop
                    content = f.read(size + 1)
            except FileNotFoundError:
                return None
            if len(content) != size:
                return None
            self._contents.put(digest, content, size)
        return content
