"""Answers derived from the database, kept in memory until anyone commits anything.

The first lookup of each request (each asyncio task) asks the ReadPath whether anything was committed
since it last asked; if so the cache is emptied. An answer computed while a change landed is dropped
instead of cached (the generation moved on), so a cached answer is never older than the last commit this
worker observed, and every commit made before a request began is observed before that request reads:
callers read their own writes, in any worker.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from typing import Any, TypeVar

from ..db.readpath import Reader, ReadPath

T = TypeVar("T")
# Which cache the current task has checked for changes. Every request runs in a task of its own, which
# starts from the loop's empty context, so each request checks once.
_checked: ContextVar[ReadCache | None] = ContextVar("berth_read_cache_checked", default=None)


class Lru:
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


class ReadCache:
    def __init__(self, reads: ReadPath, budget: int = 64 * 1024 * 1024) -> None:
        self.reads = reads
        self._entries = Lru(budget)
        self._generation = 0

    async def lookup(self, key: Hashable, compute: Callable[[Reader], Awaitable[T | None]],
                     size: Callable[[T], int] = lambda _: 200) -> T | None:
        """The cached answer for `key`, else `compute`'s (cached unless None or the database changed)."""
        if _checked.get() is not self:  # once per request: a request does several lookups
            _checked.set(self)
            if self.reads.changed():
                self._entries.clear()
                self._generation += 1
        generation = self._generation
        found: T | None = self._entries.get(key)
        if found is None:
            async with self.reads.reader() as reader:
                found = await compute(reader)
            if found is not None and generation == self._generation:
                self._entries.put(key, found, size(found))
        return found
