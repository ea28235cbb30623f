"""The read path of pulls: manifest and blob lookups, answered from memory while the database is unchanged.

Every lookup first asks the ReadPath whether anything was committed since the last one; if so the cache
is emptied. An answer computed while a change landed is dropped instead of cached (the generation moved
on), so a cached answer is never older than the last commit this worker observed, and every commit is
observed before the next lookup is answered: pulls read their own writes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Hashable
from dataclasses import dataclass
from typing import Any

from ..db.readpath import ReadPath
from ..oci.digest import Digest
from ..storage import BlobStore
from . import manifests
from .blobs import linked_blob_query
from .manifests import StoredManifest

SMALL_BLOB = 64 * 1024  # blobs up to this size are served from memory (configs, small layers)


@dataclass(frozen=True, slots=True)
class BlobInfo:
    size: int
    # Manifests are content-addressed too and can be fetched through the blob endpoint, as with
    # distribution; their bytes live in the database, not in the blob store.
    content: bytes | None = None


class _Lru:
    """Least-recently-used entries within a byte budget."""

    def __init__(self, budget: int) -> None:
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._budget, self._used = budget, 0

    def get(self, key: Hashable) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: Hashable, value: Any, size: int) -> None:
        if size > self._budget // 8:
            return
        old = self._entries.pop(key, None)
        self._used += size - (old[1] if old else 0)
        self._entries[key] = (value, size)
        while self._used > self._budget:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._used -= evicted

    def clear(self) -> None:
        self._entries.clear()
        self._used = 0


class PullService:
    def __init__(self, reads: ReadPath, store: BlobStore, budget: int = 64 * 1024 * 1024) -> None:
        self.reads, self.store = reads, store
        self._lookups = _Lru(budget)  # database answers: valid until the next change
        self._contents = _Lru(budget)  # small blob bytes by digest: immutable, valid forever
        self._generation = 0

    def _fresh(self) -> int:
        if self.reads.changed():
            self._lookups.clear()
            self._generation += 1
        return self._generation

    async def _cached(self, key: tuple[Any, ...], query: Any, generation: int) -> Any:
        """A lookup's row from the cache, else from the database (cached if nothing changed meanwhile)."""
        row = self._lookups.get(key)
        if row is None:
            row = await self.reads.first(query)
            if row is not None and generation == self._generation:
                self._lookups.put(key, row, 200 + sum(len(v) for v in row if isinstance(v, bytes)))
        return row

    async def manifest(self, repository: str, reference: Digest | str,
                       accept: Collection[str] = ()) -> StoredManifest:
        generation = self._fresh()

        async def find(ref: Digest | str) -> StoredManifest | None:
            row = await self._cached(("manifest", repository, ref), manifests.manifest_query(repository, ref),
                                     generation)
            return StoredManifest(*row) if row else None

        return await manifests.resolve_manifest(find, reference, accept)

    async def blob(self, repository: str, digest: Digest) -> BlobInfo | None:
        generation = self._fresh()
        row = await self._cached(("blob", repository, digest), linked_blob_query(repository, digest), generation)
        if row is not None:
            return BlobInfo(row[0])
        row = await self._cached(("manifest", repository, digest), manifests.manifest_query(repository, digest),
                                 generation)
        return BlobInfo(len(row[2]), row[2]) if row else None

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
