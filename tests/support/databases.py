"""The database of every registry the tests make: SQLite (the default) or PostgreSQL, switched for the
whole run by BERTH_TEST_DATABASE=postgresql.

A registry is known by its data directory, so every helper takes one:

- `database_url(data_dir)`: SQLite's file in the directory, or a PostgreSQL database of the directory's
  own, made on first use as a copy of one migrated once (about 0.1 s) and the same on every later call.
  An in-process app, a restarted `berth-registry serve`, and an admin command given the same directory
  therefore all meet the same data, as they would on SQLite. A missing SQLite file is likewise made at
  once as a copy of a file migrated once (migrating one takes 0.2 s, and most tests make one).
- `registry_settings(data_dir, **flags)`: load_settings for an in-process app (the environment ignored).
- `server_env(data_dir)`: what a `berth-registry` subprocess needs in its environment ({} on SQLite,
  where the default URL is already right). RegistryProcess and `berth_admin` add it themselves.
- `empty_database_url(data_dir)`: the same, but nothing migrated (for tests of the migrations).
- `postgres_cluster()`: the one private cluster of the session (tests/support/postgres.py), started on
  first use in either mode, for tests that need PostgreSQL side by side with SQLite.

tests/conftest.py starts and stops the cluster and, after each test, drops the databases it made in its
tmp_path (those of session- and module-scoped registries, made elsewhere, live on). A test about SQLite
itself (the file, its pragmas) marks itself `@sqlite_only("why")`; those are skipped on PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from registry.db.migrate import migrate
from registry.settings import Settings, load_settings

from .postgres import PostgresCluster

SWITCH = "BERTH_TEST_DATABASE"
BACKENDS = ("sqlite", "postgresql")
TEMPLATE = "berth_migrated"
SPARES = 3  # migrated copies made ahead of the tests that will ask for them


def backend() -> str:
    """The database the run's registries use: BERTH_TEST_DATABASE, "sqlite" when unset."""
    chosen = os.environ.get(SWITCH, "sqlite").strip().lower() or "sqlite"
    if chosen not in BACKENDS:
        raise pytest.UsageError(f"{SWITCH}={chosen!r}: use one of {', '.join(BACKENDS)}")
    return chosen


def on_postgresql() -> bool:
    return backend() == "postgresql"


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Mark a test about SQLite itself (its file, its pragmas): skipped when the run is on PostgreSQL."""
    return pytest.mark.skipif(on_postgresql(), reason=f"SQLite only: {reason}")


class _Databases:
    """The session's cluster, its migrated template, and the database made for each data directory.

    A thread keeps SPARES migrated copies ready and drops the databases of ended tests, so that a test
    seldom waits for either (a copy takes about 0.1 s, and most tests make one)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # servers' fixtures may ask from threads
        self._cluster: PostgresCluster | None = None
        self._template_ready = False
        self._names = itertools.count()
        self.by_directory: dict[Path, tuple[str, str]] = {}  # data directory -> (database name, URL)
        self.made: list[str] = []  # every database made, in order (a test drops those made during it)
        self.asked = 0  # calls of database_url, on either database (DATABASE_FREE tests must make none)
        self._work = threading.Condition()  # guards the two lists below; notified when either needs work
        self._spares: list[str] = []
        self._doomed: list[str] = []
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._sqlite_template: Path | None = None

    def sqlite_copy(self, path: Path) -> None:
        """A migrated SQLite database at `path` (its directory made if missing)."""
        with self._lock:
            if self._sqlite_template is None:
                template = Path(tempfile.mkdtemp(prefix="berth-test-template-")) / "registry.db"
                with ThreadPoolExecutor(1) as thread:  # migrations run an event loop of their own
                    thread.submit(migrate, f"sqlite+aiosqlite:///{template}").result()
                self._sqlite_template = template
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite_template, path)

    def cluster(self) -> PostgresCluster:
        with self._lock:
            if self._cluster is None:
                self._cluster = PostgresCluster().start()
            return self._cluster

    def _template(self) -> str:
        cluster = self.cluster()
        with self._lock:
            if not self._template_ready:
                url = cluster.database(TEMPLATE)
                # Migrations run an event loop of their own: never on the caller's, which may be running.
                with ThreadPoolExecutor(1) as thread:
                    thread.submit(migrate, url).result()
                self._template_ready = True
                self._worker = threading.Thread(target=self._keep_spares, name="berth-test-databases", daemon=True)
                self._worker.start()
        return TEMPLATE

    def _new_name(self) -> str:
        with self._lock:
            return f"berth_{os.getpid()}_{next(self._names)}"

    def _keep_spares(self) -> None:
        cluster = self.cluster()
        while True:
            with self._work:
                self._work.wait_for(lambda: self._stopping or self._doomed or len(self._spares) < SPARES)
                if self._stopping:
                    return
                doomed, self._doomed = self._doomed, []
            for name in doomed:
                cluster.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if not doomed:
                name = self._new_name()
                cluster.database(name, template=TEMPLATE)
                with self._work:
                    self._spares.append(name)

    def _migrated_copy(self) -> str:
        """The name of a fresh copy of the template: a spare if one is ready, else made now."""
        self._template()
        with self._work:
            name = self._spares.pop(0) if self._spares else None
            self._work.notify()
        if name is None:
            name = self._new_name()
            self.cluster().database(name, template=TEMPLATE)
        return name

    def url(self, data_dir: Path, migrated: bool) -> str:
        directory = Path(data_dir).expanduser().absolute()
        with self._lock:
            if directory not in self.by_directory:
                if migrated:
                    name = self._migrated_copy()
                    url = self.cluster().url_of(name)
                else:
                    name = self._new_name()
                    url = self.cluster().database(name)
                self.by_directory[directory] = (name, url)
                self.made.append(name)
            return self.by_directory[directory][1]

    def drop(self, names: list[str]) -> None:
        """Forget these databases and their directories; the thread drops them (ending any sessions)."""
        if not names or self._cluster is None:
            return
        forgotten = set(names)
        with self._lock:
            self.by_directory = {d: entry for d, entry in self.by_directory.items() if entry[0] not in forgotten}
            self.made = [name for name in self.made if name not in forgotten]
        with self._work:
            self._doomed += names
            self._work.notify()

    def stop(self) -> None:
        with self._work:
            self._stopping = True
            self._work.notify()
        if self._worker is not None:
            self._worker.join(60)
        if self._cluster is not None:
            self._cluster.stop()
        if self._sqlite_template is not None:
            shutil.rmtree(self._sqlite_template.parent, ignore_errors=True)
        self.__init__()  # type: ignore[misc]


_databases = _Databases()


def database_url(data_dir: Path) -> str:
    """The URL of the registry database for `data_dir` (made and migrated on first use on PostgreSQL)."""
    _databases.asked += 1
    if on_postgresql():
        return _databases.url(data_dir, migrated=True)
    path = _sqlite_path(data_dir)
    if not path.exists():
        _databases.sqlite_copy(path)
    return f"sqlite+aiosqlite:///{path}"


def empty_database_url(data_dir: Path) -> str:
    """Like database_url, with nothing migrated yet (on SQLite the file is not made)."""
    _databases.asked += 1
    if on_postgresql():
        return _databases.url(data_dir, migrated=False)
    return f"sqlite+aiosqlite:///{_sqlite_path(data_dir)}"


def _sqlite_path(data_dir: Path) -> Path:
    return Path(data_dir).expanduser().absolute() / "registry.db"


def reset(data_dir: Path) -> None:
    """Throw away the PostgreSQL database of `data_dir`, so that the next database_url makes a fresh one
    (for a test that starts over on one directory, as one that deletes an SQLite file does)."""
    directory = Path(data_dir).expanduser().absolute()
    if directory in _databases.by_directory:
        name = _databases.by_directory[directory][0]
        _databases.drop([name])


def registry_settings(data_dir: Path, **flags: Any) -> Settings:
    """Settings of an in-process registry on `data_dir` and its database; `flags` as load_settings takes
    them. The process's environment is ignored (a developer's BERTH_* variables must not leak in)."""
    return load_settings({"data_dir": data_dir, "database_url": database_url(data_dir), **flags}, env={})


def server_env(data_dir: Path) -> dict[str, str]:
    """Environment variables a `berth-registry` process on `data_dir` needs to find its database."""
    url = database_url(data_dir)
    return {"BERTH_DATABASE_URL": url} if on_postgresql() else {}


def postgres_cluster() -> PostgresCluster:
    """The session's private PostgreSQL cluster (started now if it is not yet)."""
    return _databases.cluster()


def made_so_far() -> frozenset[str]:
    """The databases made before now (a test's fixture keeps this, then drops the rest with drop_made_since)."""
    return frozenset(_databases.made)


def drop_made_since(before: frozenset[str], under: Path) -> None:
    """Drop the databases made since `before` was taken for data directories inside `under` (a test's
    tmp_path, once it ended). Others, such as those of session fixtures first asked for by the test,
    live until the session ends."""
    mine = {name for directory, (name, _) in _databases.by_directory.items()
            if directory == under or under in directory.parents}
    _databases.drop([name for name in _databases.made if name not in before and name in mine])


def asked_so_far() -> int:
    """How many times a registry database was asked for, on either database."""
    return _databases.asked


def stop() -> None:
    """Stop the cluster if it was started (the end of the session)."""
    _databases.stop()
