"""End-to-end fixtures: a real berth-registry process, offline test images, an isolated dockerd, podman.

Every test here is marked `e2e`. When one fails, the logs of the real processes it used (the registry's
lines since the test began, dockerd's tail) are attached to its report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.support.accounts import TokenRegistry
from tests.support.docker_engine import DockerEngine
from tests.support.podman import Podman
from tests.support.registry_process import RegistryProcess

HERE = Path(__file__).parent
LOG_MARKS = pytest.StashKey[dict[str, int]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    funcargs = getattr(item, "funcargs", {})
    item.stash[LOG_MARKS] = {name: value.log_size() for name, value in funcargs.items()
                             if isinstance(value, RegistryProcess)}
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        _attach_logs(item, call, report)
    return report


def _attach_logs(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    marks = item.stash.get(LOG_MARKS, {}) if call.when == "call" else {}
    for name, value in getattr(item, "funcargs", {}).items():
        if isinstance(value, RegistryProcess) and value.log_path.exists():
            lines = value.log_text(marks.get(name, 0)).splitlines()[-150:]
            report.sections.append((f"{name} log ({value.log_path})", "\n".join(lines)))
        elif isinstance(value, DockerEngine):
            report.sections.append((f"dockerd log ({value.log_path})", value.log_tail(60)))


def _registry(root: Path, workers: int = 2) -> RegistryProcess:
    return RegistryProcess(root / "data", root / "registry.log", workers=workers)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    """One server with 2 workers for the whole session; tests keep apart by repository name."""
    server = _registry(tmp_path_factory.mktemp("registry")).start()
    yield server
    server.stop()


@pytest.fixture
def own_registry(tmp_path: Path) -> Iterator[RegistryProcess]:
    """A server for one test, for tests that stop, kill or restart it."""
    server = _registry(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    client = Podman(tmp_path_factory.mktemp("podman"))
    yield client
    client.clean()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[TokenRegistry]:
    """A server with --auth token for one test module (its accounts stay within the module)."""
    registry = TokenRegistry(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    registry.start()
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def alice(server: TokenRegistry) -> str:
    """A user of the module's token server; returns her password."""
    return server.create_user("alice")
