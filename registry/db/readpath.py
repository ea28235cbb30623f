"""The read path of pulls and access checks: queries that must be cheap, and a cheap "did anything change?".

On SQLite both run inline on a private read-only connection: a lookup there takes tens of microseconds,
while each round trip through the async driver's thread costs hundreds (a HEAD that missed went from
3.5 ms to well under 1 ms). WAL readers never wait for writers, so the event loop is not held up.
`PRAGMA data_version` on that connection changes whenever any other connection, in any process,
commits. Other databases read through an async session and report a change every time, so nothing
read from them is cached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import Connection, Result, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable

from .database import Database


class Reader(Protocol):
    """The read-only part of an AsyncSession: what access checks and lookups use."""

    async def execute(self, statement: Executable) -> Result[*tuple[Any, ...]]: ...

    async def scalar(self, statement: Executable) -> Any: ...


class ReadPath(Protocol):
    def reader(self) -> AbstractAsyncContextManager[Reader]:
        """A reader of committed data as it stands now."""

    def changed(self) -> bool:
        """True if the database may have changed since the previous call. Cheap and synchronous."""

    def close(self) -> None: ...


class SessionReadPath:
    def __init__(self, db: Database) -> None:
        self.db = db

    def reader(self) -> AbstractAsyncContextManager[Reader]:
        return self.db.read()

    def changed(self) -> bool:
        return True

    def close(self) -> None:
        pass


class _InlineReader:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable) -> Result[*tuple[Any, ...]]:
        return self._connection.execute(statement)

    async def scalar(self, statement: Executable) -> Any:
        return self._connection.execute(statement).scalar()


class SqliteReadPath:
    def __init__(self, path: str) -> None:
        # One connection (StaticPool), used only from the event loop's thread.
        self._engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", poolclass=StaticPool,
                                     connect_args={"check_same_thread": False, "timeout": 1.0})
        self._connection = self._engine.connect()
        sqlite = self._connection.connection.driver_connection
        assert sqlite is not None
        self._sqlite = sqlite
        self._version: int | None = None

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Reader]:
        try:
            yield _InlineReader(self._connection)
        finally:
            self._connection.rollback()  # end the read transaction: the next read sees newer commits

    def changed(self) -> bool:
        # Straight on the sqlite3 connection: this runs on every pull request, and SQLAlchemy's
        # execution machinery would cost 20 times the query itself.
        (version,) = self._sqlite.execute("PRAGMA data_version").fetchone()
        changed, self._version = version != self._version, version
        return changed

    def close(self) -> None:
        self._connection.close()
        self._engine.dispose()


def open_read_path(database_url: str, db: Database) -> ReadPath:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return SqliteReadPath(url.database)
    return SessionReadPath(db)
