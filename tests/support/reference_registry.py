"""The CNCF reference registry (Debian's docker-registry, distribution 2.8) as a process of the tests'.

Debian's packaged config enables htpasswd and answers 401 to everything: we always write our own.
With `htpasswd` given (user, password), it asks for Basic authentication (bcrypt entry made here).
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt  # the reference registry reads only bcrypt htpasswd entries

from .commands import terminate
from .registry_process import free_port

CONFIG = """version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{auth}"""
HTPASSWD_AUTH = """auth:
  htpasswd:
    realm: reference
    path: {path}
"""


class ReferenceRegistry:
    def __init__(self, root: Path, htpasswd: tuple[str, str] | None = None) -> None:
        self.root, self.port = root, free_port()
        self.credentials = htpasswd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ReferenceRegistry:
        self.root.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.credentials:
            user, password = self.credentials
            entry = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            (self.root / "htpasswd").write_text(f"{user}:{entry}\n")
            auth = HTPASSWD_AUTH.format(path=self.root / "htpasswd")
        config = self.root / "config.yml"
        config.write_text(CONFIG.format(root=self.root / "data", port=self.port, auth=auth))
        with open(self.root / "registry.log", "ab") as log:
            self._process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=2).close()
                return self
            except urllib.error.HTTPError:
                return self  # 401 with htpasswd: it is up
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start: {(self.root / 'registry.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self._process is not None:
            terminate(self._process)
