"""A real `berth-registry serve` process on a free loopback port, with its own data directory and log file.

Its database is the data directory's (tests/support/databases.py: SQLite in it, or the directory's own
PostgreSQL database when the run uses PostgreSQL), unless `env` names one in BERTH_DATABASE_URL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from . import databases
from .commands import free_port, terminate

__all__ = ["RegistryProcess", "free_port", "group_members", "serve_command"]

READY_TIMEOUT = 20.0
STOP_GRACE = 10.0


def serve_command() -> Path:
    """The `berth-registry` console script of the interpreter running the tests (the project's venv)."""
    script = Path(sys.executable).parent / "berth-registry"
    if not script.exists():
        raise FileNotFoundError(f"{script} is missing: install the project with `pip install -e '.[test]'`")
    return script


def group_members(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (zombies left for PID 1 to reap do not count)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            members.append(int(entry.name))
    return members


class RegistryProcess:
    """One server process (plus the workers it forks). Only this process and its own group are ever signalled.

    The log (stdout and stderr, access lines included) goes to `log_path`; `log_text(since)` reads it, and
    `log_size()` marks a point to read from, so a test can look at the lines its own requests caused.
    """

    def __init__(self, data_dir: Path, log_path: Path, *, workers: int = 2, port: int | None = None,
                 auth: str = "none", extra_args: tuple[str, ...] = (),
                 env: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.workers = workers
        self.port = port or free_port()
        self.auth = auth  # "none" for the client tests; the auth tests ask for "token"
        self.extra_args = extra_args
        self.env = env  # the server's whole environment (as Popen's env); None: this process's
        # (plus, either way, BERTH_DATABASE_URL of the data directory's database unless env sets one)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """host:port, the way image references name the registry."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the registry is not running")
        return self._process.pid

    def start(self, wait_ready: bool = True) -> RegistryProcess:
        """Start the server and wait until GET /v2/ answers 200; raise with the log if it does not.

        `wait_ready=False` returns at once, for tests about what happens while the server starts."""
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError(f"the registry is already running (pid {self._process.pid})")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [str(serve_command()), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--data-dir", str(self.data_dir), "--workers", str(self.workers), "--auth", self.auth,
                *self.extra_args]
        with self.log_path.open("ab") as log:
            log.write(f"=== {' '.join(argv)}\n".encode())
            log.flush()
            # Its own session: the workers it forks share its process group, which `stop` can reach
            # by the parent's id even when the parent was killed first.
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True,
                                             env=self._environment())
        if wait_ready:
            self._wait_ready()
        return self

    def _environment(self) -> dict[str, str]:
        environment = dict(os.environ if self.env is None else self.env)
        if "BERTH_DATABASE_URL" not in environment:
            environment.update(databases.server_env(self.data_dir))
        return environment

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"berth-registry exited with status {self._process.returncode} "
                                   f"before it was ready; log:\n{self.log_tail()}")
            if self.ping():
                return
            time.sleep(0.05)
        pid = self._process.pid
        self.stop()
        raise RuntimeError(f"berth-registry (pid {pid}) did not answer GET /v2/ within {READY_TIMEOUT} s; "
                           f"log:\n{self.log_tail()}")

    def ping(self) -> bool:
        """Ready: GET /v2/ answers 200, or with token auth a 401 with a Bearer challenge."""
        try:
            with urllib.request.urlopen(f"{self.url}/v2/", timeout=2) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError as exc:
            return exc.code == 401 and exc.headers.get("WWW-Authenticate", "").startswith("Bearer ")
        except (urllib.error.URLError, OSError):
            return False

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Send `signum` to the server process only (not its workers), as an operator or a crash would."""
        os.kill(self.pid, signum)

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; then make sure no worker of ours outlived its parent.

        Returns the parent's exit status (None if it was never started)."""
        process = self._process
        if process is None:
            return None
        status = terminate(process, STOP_GRACE)
        self._reap_group(process.pid)
        return status

    @staticmethod
    def _reap_group(pgid: int) -> None:
        # Workers are in the group the parent led (start_new_session); if one outlived the parent it would
        # hold the port with SO_REUSEPORT and a restart could not bind it. SIGTERM, SIGKILL after 10 s.
        start = time.monotonic()
        while group_members(pgid) and time.monotonic() - start < 2 * STOP_GRACE:
            signum = signal.SIGTERM if time.monotonic() - start < STOP_GRACE else signal.SIGKILL
            try:
                os.killpg(pgid, signum)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def restart(self) -> RegistryProcess:
        """Stop and start again on the same port with the same data directory."""
        self.stop()
        return self.start()

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_text(self, since: int = 0) -> str:
        with self.log_path.open("rb") as log:
            log.seek(since)
            return log.read().decode(errors="replace")

    def log_tail(self, lines: int = 200) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def access_lines(self, since: int = 0, method: str | None = None) -> list[str]:
        """Access-log lines (`METHOD PATH STATUS BYTESB MSms`) written after `since`.

        A worker logs a request just after answering it, so the client may ask before the line is
        written: wait until the log has stopped growing for a moment (at most a second)."""
        deadline, size = time.monotonic() + 1.0, -1
        while time.monotonic() < deadline and size != self.log_size():
            size = self.log_size()
            time.sleep(0.05)
        found = []
        for line in self.log_text(since).splitlines():
            _, sep, entry = line.partition(" aiohttp.access: ")
            if sep and (method is None or entry.startswith(method + " ")):
                found.append(entry)
        return found

    def __enter__(self) -> RegistryProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
