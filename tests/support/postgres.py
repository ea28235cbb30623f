"""A private PostgreSQL cluster for tests: its own data directory, socket directory and loopback port.

`PostgresCluster(...).start()` runs initdb and pg_ctl from the installed server (Debian's
/usr/lib/postgresql/NN/bin, or $BERTH_PG_BIN); `database(name)` creates an empty database and returns
its SQLAlchemy async URL; `stop()` stops the server and removes the directory. Nothing is shared with
the machine's own clusters, and CI needs nothing running beforehand.

PostgreSQL refuses to run as root: as root, the server commands run as the `postgres` user (runuser),
so the directory lives where that user can reach it (by default a fresh one under /tmp: pytest's own
temporary directories are private to root). Durability is switched off: a test cluster is thrown away.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from .commands import free_port, run

SUPERUSER = "berth"  # trusted, on loopback and the private socket only
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_FAST = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
         "-c shared_buffers=128MB")


def server_bin() -> Path:
    """Where initdb and pg_ctl are: $BERTH_PG_BIN, else the newest /usr/lib/postgresql/NN/bin."""
    if os.environ.get("BERTH_PG_BIN"):
        return Path(os.environ["BERTH_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise FileNotFoundError("no PostgreSQL server: apt-get install postgresql (or set BERTH_PG_BIN)")
    return found[-1].parent


class PostgresCluster:
    """One PostgreSQL server process of the tests'. `stop` signals only the postmaster it started."""

    def __init__(self, directory: Path | None = None, *, port: int | None = None, locale: str = "C.UTF-8",
                 run_as: str = "postgres") -> None:
        self._own_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="berth-pg-"))
        self.port = port or free_port()
        self.locale = locale
        # As root the server runs as `run_as`; as anyone else, as that user itself.
        self._user = pwd.getpwnam(run_as) if os.geteuid() == 0 else None
        self._bin = server_bin()
        self._running = False

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        return self.directory / "socket"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def url(self) -> str:
        """The async URL of the `postgres` maintenance database (prefer `database(name)` for tests)."""
        return self.url_of("postgres")

    def url_of(self, name: str) -> str:
        """The async URL of database `name` (which `database` made)."""
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def _server_command(self, *argv: str) -> list[str]:
        command = [str(self._bin / argv[0]), *argv[1:]]
        return ["runuser", "-u", self._user.pw_name, "--", *command] if self._user else command

    def start(self) -> PostgresCluster:
        if self._running:
            raise RuntimeError(f"the cluster in {self.directory} is already running")
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            for path in (self.directory, self.socket_dir):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        if not (self.data_dir / "PG_VERSION").exists():
            run(self._server_command("initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust",
                                     "-E", "UTF8", f"--locale={self.locale}", "--no-sync"), timeout=120)
        options = f"-k {self.socket_dir} -p {self.port} -c listen_addresses=127.0.0.1 {_FAST}"
        self._running = True  # from here on, stop() has a server to stop, even one that failed to start
        try:
            run(self._server_command("pg_ctl", "start", "-D", str(self.data_dir), "-w", "-t", "60",
                                     "-l", str(self.log_path), "-o", options), timeout=90)
        except AssertionError as exc:
            log = self.log_tail()
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start:\n{exc}\n--- server log ---\n{log}") from None
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown: sessions are ended) and remove a directory made by us."""
        if self._running:
            run(self._server_command("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w",
                                     "-t", "60"), timeout=90, check=False)
            self._running = False
        if self._own_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with psql over the private socket; returns its unaligned output."""
        done = run([str(self._bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                    "-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER, "-d", database,
                    "-c", sql], timeout=60)
        return done.stdout

    def database(self, name: str, template: str | None = None) -> str:
        """A new database `name` (dropped first if it exists): empty, or a copy of database `template`
        (say, one migrated once for many tests; nobody may be connected to it). Returns its async URL."""
        for each in (name, template or "template0"):
            if not _DATABASE_NAME.fullmatch(each):
                raise ValueError(f"{each!r} is not a plain database name (lowercase letters, digits, _)")
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.psql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url_of(name)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def available() -> bool:
    """Whether a PostgreSQL server is installed here (and, as root, the user to run it as exists)."""
    try:
        server_bin()
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")
    except (FileNotFoundError, KeyError):
        return False
    return shutil.which("runuser") is not None or os.geteuid() != 0
