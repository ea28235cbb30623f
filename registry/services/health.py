"""Readiness: whether the database and the blob store answer now, checked within a short time.

A probe must answer even when a dependency hangs (a locked SQLite file, a stalled network mount), so
each check is bounded by a timeout. The check itself is left running after the timeout (a thread stuck
in stat() or a busy SQLite cannot be cancelled) and the next probe waits on that same check rather than
starting another: probes every few seconds against a hung dependency never pile up threads or
connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal, select

from ..db import Database
from ..db.models import Repository, Upload
from ..storage import BlobStore

log = logging.getLogger("berth.health")
CHECK_TIMEOUT = 0.5  # seconds; below Kubernetes' default probe timeout (1 s), so we answer first


@dataclass(frozen=True, slots=True)
class Failure:
    dependency: str  # "database" or "storage"
    reason: str  # short and safe to show anyone: no paths, hosts or SQL
    detail: str  # the whole error, for the log


class Readiness:
    """Checks the database and the blob store, one check of each at a time."""

    def __init__(self, db: Database, store: BlobStore, timeout: float = CHECK_TIMEOUT) -> None:
        self._checks: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {"database": lambda: _read_a_table(db),
                                                                  "storage": store.check}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._failing: set[str] = set()
        self.timeout = timeout

    async def failures(self) -> list[Failure]:
        """What is not ready now (an empty list: everything is)."""
        outcomes = await asyncio.gather(*(self._outcome(name) for name in self._checks))
        found = [failure for failure in outcomes if failure is not None]
        self._log_changes(found)
        return found

    async def _outcome(self, name: str) -> Failure | None:
        task = self._running.get(name)
        if task is None or task.done():
            task = self._running[name] = asyncio.create_task(self._checks[name]())
            task.add_done_callback(_retrieve)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except TimeoutError:
            reason = f"no answer within {self.timeout:g} s"
            return Failure(name, reason, reason)
        except Exception as exc:
            reason = type(exc).__name__ + (f": {exc.strerror}" if isinstance(exc, OSError) and exc.strerror else "")
            return Failure(name, reason, f"{type(exc).__name__}: {exc}")
        return None

    def _log_changes(self, found: list[Failure]) -> None:
        # Once when a dependency fails and once when it is back: probes come every few seconds.
        for failure in found:
            if failure.dependency not in self._failing:
                log.warning("not ready: %s: %s", failure.dependency, failure.detail)
        for name in self._failing - {failure.dependency for failure in found}:
            log.warning("ready again: %s answers", name)
        self._failing = {failure.dependency for failure in found}

    async def close(self) -> None:
        """Stop checks still waiting on a hung dependency (at shutdown)."""
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)


async def _read_a_table(db: Database) -> None:
    # Reading a table, not `SELECT 1`: that never touches the file, so SQLite would answer it even while
    # another process holds the database locked.
    async with db.read() as session:
        await session.execute(select(literal(1)).select_from(Repository).limit(1))


def _retrieve(task: asyncio.Task[None]) -> None:
    # A check that fails after its probe gave up has nobody awaiting it: take its exception, so that
    # asyncio does not log "exception was never retrieved".
    if not task.cancelled():
        task.exception()


async def count_open_uploads(db: Database) -> int:
    """Upload sessions started and not yet finished, cancelled or purged (all replicas together)."""
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Upload)) or 0)
