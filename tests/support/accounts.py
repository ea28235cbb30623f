"""Accounts for end-to-end tests of token authentication: a token-auth server, its admin commands run as
subprocesses against the same data directory, logins of the real clients, and plain HTTP as someone.

Every secret a test makes or uses goes through `TokenRegistry.remember`, so a test can check at the end
that none of them ever reached the server's log.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import databases
from .commands import CommandFailed
from .docker_engine import DOCKER, DockerEngine
from .podman import PODMAN, Podman
from .registry_process import RegistryProcess, serve_command

ADMIN = "admin"
CLI_TIMEOUT = 60.0


def run_with_stdin(argv: Sequence[str | Path], stdin: str, *, env: Mapping[str, str] | None = None,
                   timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Like commands.run, with `stdin` fed to the command (for --password-stdin)."""
    args = [str(a) for a in argv]
    try:
        done = subprocess.run(args, input=stdin, env={**os.environ, **(env or {})}, timeout=timeout,
                              capture_output=True, text=True)
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(args, f"nothing (timed out after {timeout} s)", str(exc.stdout or ""),
                            str(exc.stderr or "")) from None
    if check and done.returncode != 0:
        raise CommandFailed(args, done.returncode, done.stdout, done.stderr)
    return done


def berth_admin(data_dir: Path, *args: str, stdin: str | None = None, check: bool = True
                ) -> subprocess.CompletedProcess[str]:
    """`berth-registry ARGS --data-dir DATA_DIR` on that directory's database, with `stdin` on its standard
    input (empty when None)."""
    argv = [str(serve_command()), *args, "--data-dir", str(data_dir)]
    return run_with_stdin(argv, stdin or "", env=databases.server_env(data_dir), timeout=CLI_TIMEOUT, check=check)


def new_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


class TokenRegistry(RegistryProcess):
    """A `berth-registry serve --auth token` process whose administrator is `admin` / `admin_password`.

    admin_password "" (the default) picks a fresh one and passes it in BERTH_ADMIN_PASSWORD; None leaves
    that variable unset, so the server generates the password and logs it once."""

    def __init__(self, root: Path, *, admin_password: str | None = "", workers: int = 2) -> None:
        self.admin_password = new_password() if admin_password == "" else admin_password
        env = {k: v for k, v in os.environ.items() if k != "BERTH_ADMIN_PASSWORD"}
        if self.admin_password is not None:
            env["BERTH_ADMIN_PASSWORD"] = self.admin_password
        super().__init__(root / "data", root / "registry.log", workers=workers, auth="token", env=env)
        self.secrets: set[str] = {self.admin_password} if self.admin_password else set()

    # -- the admin commands, against the running server's database ----------------------------------

    def admin(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        return berth_admin(self.data_dir, *args, stdin=stdin, check=check)

    def remember(self, secret: str) -> str:
        self.secrets.add(secret)
        return secret

    def create_user(self, name: str, *extra: str) -> str:
        """A user with a fresh password; returns the password."""
        password = self.remember(new_password())
        self.admin("user", "create", name, *extra, "--password-stdin", stdin=password + "\n")
        return password

    def create_token(self, user: str, scope: str) -> str:
        return self.remember(self.admin("token", "create", user, "--scope", scope).stdout.strip())

    def create_robot(self, organization: str, name: str) -> tuple[str, str]:
        """(username, secret) of a new robot, from the two lines the command prints."""
        lines = dict(line.split(": ", 1) for line in
                     self.admin("robot", "create", organization, name).stdout.splitlines())
        return lines["username"], self.remember(lines["secret"])

    def leaked_secrets(self) -> list[str]:
        """The remembered secrets that appear in the server's log (should be none)."""
        log = self.log_text()
        return sorted(s for s in self.secrets if s and s in log)


# -- plain HTTP as someone ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        return dict(json.loads(self.body))


def basic(username: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def http(method: str, url: str, headers: Mapping[str, str] | None = None, body: bytes | None = None) -> Answer:
    """One request with urllib; any status is an answer, not an exception."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, dict(exc.headers), exc.read())


def registry_token(server: RegistryProcess, *scopes: str, credentials: tuple[str, str] | None = None) -> str:
    """A registry token from GET /token, as the Docker engine asks for one."""
    query = urllib.parse.urlencode([("service", "berth"), *(("scope", s) for s in scopes)])
    answer = http("GET", f"{server.url}/token?{query}", basic(*credentials) if credentials else None)
    assert answer.status == 200, answer
    return str(answer.json()["token"])


def _jwt_part(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def jwt_header(token: str) -> dict[str, object]:
    """The header of a registry token (its `kid` names the signing key), read without verifying."""
    return _jwt_part(token, 0)


def jwt_claims(token: str) -> dict[str, object]:
    """The claims of a registry token (`sub`, `access`, ...), read without verifying."""
    return _jwt_part(token, 1)


# -- the real clients' logins -------------------------------------------------------------------------

def docker_login(engine: DockerEngine, host: str, username: str, secret: str, check: bool = True
                 ) -> subprocess.CompletedProcess[str]:
    return run_with_stdin([DOCKER, "login", host, "-u", username, "--password-stdin"], secret + "\n",
                          env=engine.env, check=check)


def docker_config(engine: DockerEngine) -> dict[str, object]:
    path = engine.config_dir / "config.json"
    return dict(json.loads(path.read_text())) if path.exists() else {}


def podman_login(podman: Podman, authfile: Path, host: str, username: str, secret: str, check: bool = True
                 ) -> subprocess.CompletedProcess[str]:
    argv: list[str | Path] = [PODMAN, "--root", podman.root / "root", "--runroot", podman.root / "run", "--tmpdir",
            podman.root / "tmp", "login", "--tls-verify=false", "--authfile", authfile, "-u", username,
            "--password-stdin", host]
    return run_with_stdin(argv, secret + "\n", env=podman.env, check=check)


def command_output(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr

