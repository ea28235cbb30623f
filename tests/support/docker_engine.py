"""An isolated Docker engine: its own data-root, exec-root, socket and pidfile; no bridge, no iptables.

Started as ENVIRONMENT.md describes; the Debian 20.10 client (/usr/bin/docker) talks to it through
DOCKER_HOST, with a private DOCKER_CONFIG. If dockerd cannot start, `start` raises with dockerd's log,
so the tests that need it fail (they are never skipped).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from .commands import CommandFailed, run, terminate

DOCKERD = "/usr/sbin/dockerd"
DOCKER = "/usr/bin/docker"  # the Debian 20.10 client, not whatever else is first on PATH
READY_TIMEOUT = 30.0
STOP_GRACE = 10.0


class DockerEngineError(RuntimeError):
    """dockerd did not come up; the message carries its log."""


class DockerEngine:
    """One private dockerd under `root`, and the docker CLI pointed at it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.log_path = root / "dockerd.log"
        self.config_dir = root / "config"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        """What a client needs to reach this engine (and only it)."""
        return {"DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.config_dir)}

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("dockerd is not running")
        return self._process.pid

    def start(self) -> DockerEngine:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        argv = [DOCKERD, "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
                "-H", self.host, "--pidfile", str(self.root / "dockerd.pid"),
                "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DockerEngineError(f"dockerd exited with status {self._process.returncode}; "
                                        f"log:\n{self.log_tail()}")
            if run([DOCKER, "info"], env=self.env, check=False, timeout=10).returncode == 0:
                return self
            time.sleep(0.2)
        self.stop()
        raise DockerEngineError(f"dockerd was not ready within {READY_TIMEOUT} s; log:\n{self.log_tail()}")

    def docker(self, *args: str, timeout: float = 120, check: bool = True
               ) -> subprocess.CompletedProcess[str]:
        """Run the docker CLI against this engine."""
        return run([DOCKER, *args], env=self.env, timeout=timeout, check=check)

    def stop(self) -> None:
        """SIGTERM dockerd by its pid, SIGKILL after 10 s; then whatever is left of its process group."""
        process = self._process
        if process is None:
            return
        terminate(process, STOP_GRACE)
        # A SIGKILLed dockerd leaves the containerd it started (same process group) behind.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 150) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def load_image(engine: DockerEngine, source_ref: str, name: str) -> None:
    """Copy an image (e.g. `oci:DIR:TAG`) into the engine's image store as `name` with skopeo."""
    try:
        run(["skopeo", "copy", "--quiet", source_ref, f"docker-daemon:{name}",
             "--dest-daemon-host", engine.host], timeout=120)
    except CommandFailed as exc:
        raise AssertionError(f"{exc}\n--- dockerd log ---\n{engine.log_tail(40)}") from None
