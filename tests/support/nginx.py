"""Debian's nginx in front of registry replicas, round-robin, with the proxy settings docker-compose.yml ships.

`Nginx(directory, upstreams).start()` writes a configuration whose `location /` includes
deploy/nginx/berth-proxy.conf (the same file the compose stack mounts), listens on a free loopback port and
runs nginx in the foreground of its own process (`daemon off`), so `stop` signals only that process, by
its pid. Logs and temporary files stay in `directory`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from .commands import free_port, terminate

ROOT = Path(__file__).resolve().parent.parent.parent
PROXY_SETTINGS = ROOT / "deploy" / "nginx" / "berth-proxy.conf"
READY_TIMEOUT = 10.0

CONFIGURATION = """\
daemon off;
master_process on;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    upstream berth {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://berth;
            include {proxy_settings};
        }}
    }}
}}
"""


def executable() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        raise FileNotFoundError("nginx is not installed: apt-get install nginx (make test does)")
    return found


class Nginx:
    """One nginx process balancing `upstreams` (host:port of each replica) in turn."""

    def __init__(self, directory: Path, upstreams: Sequence[str], *, port: int | None = None) -> None:
        self.directory = directory
        self.upstreams = list(upstreams)
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def config_path(self) -> Path:
        return self.directory / "nginx.conf"

    def start(self) -> Nginx:
        self.directory.mkdir(parents=True, exist_ok=True)
        # Passive health checks: a replica that refuses connections is left alone for a few seconds.
        servers = "\n".join(f"        server {upstream} max_fails=1 fail_timeout=3s;" for upstream in self.upstreams)
        self.config_path.write_text(CONFIGURATION.format(directory=self.directory, servers=servers, port=self.port,
                                                         proxy_settings=PROXY_SETTINGS))
        with (self.directory / "stderr.log").open("ab") as stderr:
            self._process = subprocess.Popen([executable(), "-p", str(self.directory), "-c", str(self.config_path),
                                              "-e", str(self.directory / "error.log")],
                                             stdout=stderr, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"nginx exited with status {self._process.returncode}:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # a replica answered through nginx (401 with token auth)
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not answer within {READY_TIMEOUT} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM (nginx's fast shutdown) to the master we started; SIGKILL after 10 s."""
        if self._process is not None:
            terminate(self._process, 10.0)
            self._process = None

    def access_log(self) -> str:
        path = self.directory / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        texts = [(self.directory / name).read_text(errors="replace") for name in ("stderr.log", "error.log")
                 if (self.directory / name).exists()]
        return "\n".join("\n".join(texts).splitlines()[-lines:])
