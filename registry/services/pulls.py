"""The read path of pulls: manifest and blob lookups, answered from memory while the database is unchanged.

Every lookup first asks the ChangeMonitor whether anything was committed since the last one; if so the
cache is emptied. An answer computed while a change landed is dropped instead of cached (the
generation moved on), so a cached answer is never older than the last commit this worker observed,
and every commit is observed before the next lookup is answered: pulls read their own writes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Hashable
from typing import Any

from ..db import Database
from ..db.changes import ChangeMonitor
from ..oci.digest import Digest
from ..storage import BlobStore
from . import manifests
from .blobs import BlobInfo, find_blob
from .manifests import StoredManifest

SMALL_BLOB = 64 * 1024  # blobs up to this size are served from memory (configs, small layers)


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
    def __init__(self, db: Database, store: BlobStore, monitor: ChangeMonitor,
                 budget: int = 64 * 1024 * 1024) -> None:
        self.db, self.store, self.monitor = db, store, monitor
        self._lookups = _Lru(budget)  # database answers: valid until the next change
        self._contents = _Lru(budget)  # small blob bytes by digest: immutable, valid forever
        self._generation = 0

    def _fresh(self) -> int:
        if self.monitor.changed():
            self._lookups.clear()
            self._generation += 1
        return self._generation

    async def manifest(self, repository: str, reference: Digest | str,
                       accept: Collection[str] = ()) -> StoredManifest:
        generation = self._fresh()

        async def find(ref: Digest | str) -> StoredManifest | None:
            key = ("manifest", repository, ref)
            found = self._lookups.get(key)
            if found is None:
                async with self.db.read() as session:
                    found = await manifests.lookup_manifest(session, repository, ref)
                if found is not None and generation == self._generation:
                    self._lookups.put(key, found, len(found.content) + 200)
            return found

        return await manifests.resolve_manifest(find, reference, accept)

    async def blob(self, repository: str, digest: Digest) -> BlobInfo | None:
        generation = self._fresh()
        key = ("blob", repository, digest)
        found = self._lookups.get(key)
        if found is None:
            async with self.db.read() as session:
                found = await find_blob(session, repository, digest)
            if found is not None and generation == self._generation:
                self._lookups.put(key, found, 200 + len(found.content or b""))
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
            with open(path, "rb") as f:  # a page-cache read of a few KB: cheaper than a thread hop
                content = f.read(size + 1)
            if len(content) != size:
                return None
            self._contents.put(digest, content, size)
        return content
