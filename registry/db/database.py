"""The async engine and sessions. SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE for writers;
PostgreSQL a bounded pool of connections that are checked before use."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Result, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
# A connection older than this is replaced, before a firewall or a proxy between us and PostgreSQL
# drops it silently while it sits in the pool.
POOL_RECYCLE_SECONDS = 1800
APPLICATION_NAME = "berth-registry"  # how our sessions appear in pg_stat_activity


@dataclass(frozen=True, slots=True)
class PoolLimits:
    """The connection pool of one process (settings database_pool_size, _max_overflow, _pool_timeout)."""
    size: int = 5
    overflow: int = 5
    timeout: float = 10.0


class Database:
    """Owns the engine. `read()` and `write()` yield sessions; `write()` commits on success.

    On SQLite, a write transaction starts with BEGIN IMMEDIATE: it waits for the write lock up front
    instead of failing with "database is locked" when a read transaction later tries to write.
    """

    def __init__(self, url: str, pool: PoolLimits | None = None, **engine_options: Any) -> None:
        if make_url(url).get_backend_name() == "postgresql":
            engine_options = {**_postgresql_options(pool or PoolLimits()), **engine_options}
        self.engine: AsyncEngine = create_async_engine(url, **engine_options)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            if self.is_sqlite:
                await session.connection(execution_options={"sqlite_begin": "BEGIN IMMEDIATE"})
            yield session

    async def close(self) -> None:
        await self.engine.dispose()


def _postgresql_options(pool: PoolLimits) -> dict[str, Any]:
    # Pre-ping: after PostgreSQL restarts (or fails over), a pooled connection is dead; one round trip at
    # checkout replaces it instead of failing the request that drew it.
    return {"pool_size": pool.size, "max_overflow": pool.overflow, "pool_timeout": pool.timeout,
            "pool_recycle": POOL_RECYCLE_SECONDS, "pool_pre_ping": True,
            "connect_args": {"server_settings": {"application_name": APPLICATION_NAME}}}


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                       f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", "mmap_size=1073741824"):  # reads: no syscall a page
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql(conn.get_execution_options().get("sqlite_begin", "BEGIN"))


def _dialect(session: AsyncSession) -> Any:
    """The module whose INSERT knows ON CONFLICT for this session's database."""
    return postgresql if session.get_bind().dialect.name == "postgresql" else sqlite


def rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """How many rows an UPDATE or DELETE touched (typed Results of DML are cursor results)."""
    return cast("CursorResult[*tuple[Any, ...]]", result).rowcount


def insert_ignoring_conflicts(session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]],
                              keys: Sequence[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO NOTHING, on SQLite and PostgreSQL alike."""
    dialect = _dialect(session)
    return dialect.insert(model).values(list(rows)).on_conflict_do_nothing(index_elements=list(keys))


def upsert(session: AsyncSession, model: Any, row: dict[str, Any], keys: Sequence[str],
           update: Sequence[str] | Mapping[str, Any]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE: one winner, no duplicate rows. `update` names the columns
    that take `row`'s values, or maps columns to expressions, which may read the existing row's columns
    (`model.count + 1`): the row is locked and read as it stands, so concurrent upserts never lose one."""
    dialect = _dialect(session)
    stmt = dialect.insert(model).values(row)
    changes = dict(update) if isinstance(update, Mapping) else {c: stmt.excluded[c] for c in update}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=changes)
