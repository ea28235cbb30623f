"""The read path of pulls: manifest and blob lookups, answered from memory while the database is unchanged."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import update

from ..db import Database
from ..db.models import Repository
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
    location: str = ""  # where the blob store keeps the bytes (storage/base.py)


def _size(found: StoredManifest | BlobInfo) -> int:
    return 200 + len(found.content or b"")


class PullService:
    def __init__(self, cache: ReadCache, store: BlobStore, budget: int = 64 * 1024 * 1024) -> None:
        self.cache, self.store = cache, store
        self._contents = Lru(budget)  # small blob bytes by digest: immutable, valid forever
        self._pulls: Counter[str] = Counter()  # manifest GETs per repository, not yet in the database

    async def _manifest(self, repository: str, reference: Digest | str) -> StoredManifest | None:
        async def query(reader: Reader) -> StoredManifest | None:
            row = (await reader.execute(manifests.manifest_query(repository, reference))).first()
            return StoredManifest(row[0], row[1], row[2]) if row else None
        return await self.cache.lookup(("manifest", repository, reference), query, _size)

    async def manifest(self, repository: str, reference: Digest | str, accept: Collection[str] = (),
                       count: bool = False) -> StoredManifest:
        """The manifest a reference names; `count` it as a pull (manifest GETs are pulls, HEADs are not)."""
        found = await manifests.resolve_manifest(lambda ref: self._manifest(repository, ref), reference, accept)
        if count:
            self._pulls[repository] += 1
        return found

    async def flush_pull_counts(self, db: Database) -> None:
        """Add the pulls counted since the last flush: one UPDATE per repository, not one per pull."""
        counted, self._pulls = self._pulls, Counter()
        if not counted:
            return
        try:
            async with db.write() as session:
                for repository, pulls in sorted(counted.items()):
                    await session.execute(update(Repository).where(Repository.name == repository)
                                          .values(pull_count=Repository.pull_count + pulls))
        except Exception:
            self._pulls.update(counted)  # counted again at the next flush
            raise

    async def blob(self, repository: str, digest: Digest) -> BlobInfo | None:
        async def query(reader: Reader) -> BlobInfo | None:
            found = (await reader.execute(linked_blob_query(repository, digest))).first()
            return BlobInfo(found.size, location=found.location) if found is not None else None
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
