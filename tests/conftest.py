"""Shared fixtures: an in-process registry (aiohttp test client) on a fresh data directory and database.

The run's database is SQLite, or PostgreSQL with BERTH_TEST_DATABASE=postgresql (tests/support/databases.py
says how every registry finds its own). On PostgreSQL, tests that never touch a registry database
(DATABASE_FREE) are left out: the SQLite run covers them, and a test there that does touch one fails.
`make test` runs both passes side by side and sets BERTH_TEST_BALANCE=1, which moves the long
database-free suites (BALANCED) from the SQLite pass to the PostgreSQL one, to even out their times.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from registry.app import create_app
from registry.db.migrate import migrate
from registry.settings import Settings
from tests.support import databases
from tests.support.docker_engine import DockerEngine
from tests.support.images import ImageCache, OciImage

# Tests (paths under tests/, a directory or a file) that make no registry and open no registry database.
DATABASE_FREE = ("unit", "runtime", "test_architecture.py", "storage/test_blob_store_contract.py",
                 "cli/test_local_images.py", "s3/test_s3_store.py")
# Left out of the PostgreSQL pass as well, to keep `make test` within CI's 20 minutes on 2 cores:
# - suites that drive the registry with a real client (berth, podman, oras, python-dxf, chromium, a
#   process's lifecycle), which exercise the client and the protocol: the registry's database work they
#   cause is the same as in the in-process API tests and the skopeo and docker suites, which do run on
#   PostgreSQL;
# - tests/scaleout, which runs on PostgreSQL (and S3) in both passes anyway.
CLIENT_SUITES = ("cli", "containers", "web/browser", "scaleout", "s3/test_s3_e2e.py", "e2e/test_admin_cli.py",
                 "e2e/test_dxf.py", "e2e/test_oras.py", "e2e/test_podman.py", "e2e/test_memory.py",
                 "e2e/test_search_clients.py", "e2e/test_server_cli.py", "e2e/test_build_interop.py")
# Run in the PostgreSQL pass instead of the SQLite one when BERTH_TEST_BALANCE=1 (`make test`): suites
# whose results do not depend on the registry's database (containers through runc, layer unpacking, builds),
# the berth client's and the browser's (their registries are on PostgreSQL there), and the replicas' (on
# PostgreSQL in either pass).
BALANCED = ("containers", "runtime", "cli", "e2e/test_build_interop.py", "scaleout", "web/browser")
_TESTS = Path(__file__).parent


def _under(item: pytest.Item, entries: tuple[str, ...]) -> bool:
    path = Path(item.path)
    return any(path == _TESTS / entry or _TESTS / entry in path.parents for entry in entries)


def _database_free(item: pytest.Item) -> bool:
    return _under(item, DATABASE_FREE)


def pytest_report_header() -> str:
    return f"registry database: {databases.backend()} ({databases.SWITCH})"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, leave out what the SQLite run already covered in full: database-free tests, tests
    parametrized over both databases (they run each side in that run), and CLIENT_SUITES. Balanced
    (BERTH_TEST_BALANCE=1), the BALANCED suites run on PostgreSQL's side only."""
    balanced = os.environ.get("BERTH_TEST_BALANCE") == "1"
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        if balanced and _under(item, BALANCED):
            keep = databases.on_postgresql()
        elif not databases.on_postgresql():
            keep = True
        else:
            params = getattr(getattr(item, "callspec", None), "params", {})
            both = any(value in databases.BACKENDS for value in params.values() if isinstance(value, str))
            keep = not (_database_free(item) or both or _under(item, CLIENT_SUITES))
        (kept if keep else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def _registry_databases() -> Iterator[None]:
    """The session's PostgreSQL cluster, when the run uses one (started at once: nearly every test needs it)."""
    if databases.on_postgresql():
        databases.postgres_cluster()
    yield
    databases.stop()


@pytest.fixture(autouse=True)
def _test_databases(request: pytest.FixtureRequest) -> Iterator[None]:
    """Drop the databases this test made in its tmp_path once it is over (autouse: torn down after its
    registries). A test without a tmp_path leaves its databases to the end of the session."""
    # Asked for now, so that it is torn down after this fixture, not before.
    tmp_path = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    before, asked = databases.made_so_far(), databases.asked_so_far()
    yield
    if tmp_path is not None:
        databases.drop_made_since(before, tmp_path.absolute())
    if databases.asked_so_far() > asked and _database_free(request.node):
        pytest.fail(f"{request.node.nodeid} made a registry database: remove it from DATABASE_FREE in "
                    "tests/conftest.py", pytrace=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return databases.registry_settings(tmp_path / "data", workers=1, auth="none")


@pytest.fixture
async def client(settings: Settings, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    """A test client of a registry with an empty database and blob directory."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate, settings.database_url)
    return await aiohttp_client(create_app(settings))


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> ImageCache:
    return ImageCache(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="session")
def busybox_layout(images: ImageCache) -> OciImage:
    return images.busybox()


@pytest.fixture(scope="session")
def multi_layer_layout(images: ImageCache) -> OciImage:
    return images.multi_layer(extra_layers=2)


@pytest.fixture(scope="session")
def multi_arch_layout(images: ImageCache) -> OciImage:
    return images.multi_arch()


@pytest.fixture(scope="session")
def docker_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerEngine]:
    """One private dockerd for the session; if it cannot start, every test using it errors with its log."""
    engine = DockerEngine(tmp_path_factory.mktemp("docker"))
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()
