"""Change detection: has anyone committed to the database since we last looked?

Pulls are read-heavy and repeat the same few lookups; a worker may answer them from memory as long as
the database has not changed since. On SQLite, `PRAGMA data_version` on a private read-only
connection says so in microseconds, for commits by any process. Where no such cheap signal exists the
monitor always reports a change, so every read goes to the database.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from sqlalchemy.engine import make_url


class ChangeMonitor(Protocol):
    def changed(self) -> bool:
        """True if the database may have changed since the previous call. Cheap and synchronous."""

    def close(self) -> None: ...


class AlwaysChanged:
    def changed(self) -> bool:
        return True

    def close(self) -> None:
        pass


class SqliteChangeMonitor:
    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                                           isolation_level=None)
        self._version: int | None = None

    def changed(self) -> bool:
        try:
            (version,) = self._connection.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            return True
        changed, self._version = version != self._version, version
        return changed

    def close(self) -> None:
        self._connection.close()


def open_change_monitor(database_url: str) -> ChangeMonitor:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return SqliteChangeMonitor(url.database)
    return AlwaysChanged()
