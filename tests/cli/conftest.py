"""Fixtures of the `berth` CLI tests: a berth with its own BERTH_HOME, and registries to talk to.

`berth.run(...)` calls the CLI in-process (cli.__main__.main with an injected Environment) and returns
its exit code and output; `berth.run_process(...)` runs the installed console script instead, for what
only a real process shows (a terminal, signals, the exact exit status).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.__main__ import main
from cli.environment import Environment
from tests.support.accounts import TokenRegistry
from tests.support.reference_registry import ReferenceRegistry
from tests.support.registry_process import RegistryProcess

BERTH = Path(sys.executable).parent / "berth"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class Berth:
    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.environ = {"HOME": str(home / "user-home"), "PATH": os.environ.get("PATH", ""),
                        "BERTH_HOME": str(home), **(extra_env or {})}

    def run(self, *args: str, stdin: str = "") -> Result:
        out, err = io.StringIO(), io.StringIO()
        env = Environment(stdin=io.StringIO(stdin), stdout=out, stderr=err, environ=self.environ)
        code = main(list(args), env)
        return Result(code, out.getvalue(), err.getvalue())

    def run_process(self, *args: str, stdin: str = "", timeout: float = 300) -> Result:
        done = subprocess.run([str(BERTH), *args], input=stdin, capture_output=True, text=True,
                              env=self.environ, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, stdin: str = "") -> Result:
        """Run and assert exit 0 (with the output in the failure message)."""
        result = self.run(*args, stdin=stdin)
        assert result.code == 0, f"berth {' '.join(args)} exited {result.code}\n{result.out}\n{result.err}"
        return result


@pytest.fixture
def berth(tmp_path: Path) -> Berth:
    """A berth with an empty BERTH_HOME of its own."""
    return Berth(tmp_path / "berth-home")


@pytest.fixture(scope="session")
def open_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    """A berth-registry with --auth none."""
    root = tmp_path_factory.mktemp("cli-open-registry")
    server = RegistryProcess(root / "data", root / "registry.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    """A berth-registry with token auth; `token_registry.create_user(name)` returns a password."""
    server = TokenRegistry(tmp_path_factory.mktemp("cli-token-registry"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def reference_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceRegistry]:
    """The CNCF reference registry, without authentication."""
    server = ReferenceRegistry(tmp_path_factory.mktemp("cli-reference")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReferenceRegistry]:
    """The reference registry asking for Basic auth (htpasswd) as ("bob", "bob-password")."""
    server = ReferenceRegistry(tmp_path_factory.mktemp("cli-basic"), htpasswd=("bob", "bob-password")).start()
    yield server
    server.stop()
