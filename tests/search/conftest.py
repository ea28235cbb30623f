"""Registries for the search tests, on SQLite and on PostgreSQL, loaded with the same repositories.

`search_registry` is parametrized over both databases (one contract suite); `open_registry(backend)`
makes one on demand (the contract test holds one of each side by side). Each is a token-auth registry
whose database was migrated with registry.db.migrate, with `admin` (ADMIN_PASSWORD), and repositories
and accounts loaded through the services and plain SQL updates. The PostgreSQL cluster is private to
the test session (tests/support/postgres.py) and started only when a test asks for PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, update

from registry import keys
from registry.app import create_app
from registry.bootstrap import bootstrap
from registry.db.migrate import migrate
from registry.db.models import Repository
from registry.services import accounts, hub
from registry.services.repositories import ensure_repository
from registry.settings import load_settings
from tests.support import databases
from tests.support.postgres import PostgresCluster

BACKENDS = ("sqlite", "postgresql")
ADMIN_PASSWORD = "admin-password"
PASSWORD = "a-good-password"
TEMPLATE = "berth_search_template"
_databases = itertools.count()


@dataclass(frozen=True)
class Repo:
    """A repository as a test loads it."""
    name: str
    short: str = ""
    full: str = ""
    stars: int = 0
    pulls: int = 0
    private: bool = False


def basic(username: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


class SearchRegistry:
    """A registry under test: load repositories, act on its database, search as someone."""

    def __init__(self, backend: str, client: TestClient) -> None:
        self.backend, self.client = backend, client

    async def write(self, fn: Callable[[Any], Awaitable[Any]]) -> Any:
        async with self.client.app[keys.database].write() as session:
            return await fn(session)

    async def load(self, repos: Iterable[Repo]) -> None:
        async def load(session: Any) -> None:
            for repo in repos:
                await ensure_repository(session, repo.name)
                await hub.set_descriptions(session, repo.name, repo.short, repo.full)
                await session.execute(update(Repository).where(Repository.name == repo.name).values(
                    star_count=repo.stars, pull_count=repo.pulls, is_private=repo.private))
        await self.write(load)

    async def delete(self, name: str) -> None:
        await self.write(lambda session: session.execute(delete(Repository).where(Repository.name == name)))

    async def search(self, term: str, headers: dict[str, str] | None = None, expect: int = 200,
                     **params: str) -> dict[str, Any]:
        response = await self.client.get("/v1/search", params={"q": term, **params}, headers=headers or {})
        assert response.status == expect, await response.text()
        return await response.json()  # type: ignore[no-any-return]

    async def names(self, term: str, headers: dict[str, str] | None = None, **params: str) -> list[str]:
        return [hit["name"] for hit in (await self.search(term, headers, **params))["results"]]

    async def everything(self, term: str, headers: dict[str, str] | None = None, n: int = 100
                         ) -> tuple[int, list[str]]:
        """(num_results, every matching name in order), page after page of `n`."""
        first = await self.search(term, headers, n=str(n))
        found = [hit["name"] for hit in first["results"]]
        for page in range(2, first["num_pages"] + 1):
            found += await self.names(term, headers, n=str(n), page=str(page))
        return first["num_results"], found


async def create_accounts(registry: SearchRegistry) -> dict[str, dict[str, str]]:
    """alice (owns acme), bobby (acme's readers team: all of acme), carol (a team granted acme/granted
    only), the robot acme+builder (granted acme/robot-only), and the administrator: Basic headers by name."""
    async def create(session: Any) -> str:
        for user in ("alice", "bobby", "carol"):
            await accounts.create_user(session, user, PASSWORD)
        await accounts.create_organization(session, "acme", "alice")
        await accounts.create_team(session, "acme", "readers", "read")
        await accounts.add_team_member(session, "acme", "readers", "bobby")
        await accounts.create_team(session, "acme", "narrow")
        await accounts.add_team_member(session, "acme", "narrow", "carol")
        for name in ("acme/granted", "acme/robot-only"):
            await ensure_repository(session, name)
        await accounts.grant_team(session, "acme", "narrow", "read", "acme/granted")
        secret = await accounts.create_robot(session, "acme", "builder")
        await accounts.grant_robot(session, "acme", "builder", "acme/robot-only", "read")
        return secret
    robot_secret = await registry.write(create)
    return {"anonymous": {}, "admin": basic("admin", ADMIN_PASSWORD), "alice": basic("alice", PASSWORD),
            "bobby": basic("bobby", PASSWORD), "carol": basic("carol", PASSWORD),
            "acme+builder": basic("acme+builder", robot_secret)}


@pytest.fixture(scope="session")
def postgres() -> PostgresCluster:
    return databases.postgres_cluster()  # the session's one cluster (stopped by tests/conftest.py)


@pytest.fixture(scope="session")
def migrated_postgres(postgres: PostgresCluster) -> PostgresCluster:
    """The cluster, holding TEMPLATE: a database migrated once, which each test copies."""
    # In a thread of its own: first asked for from inside a test's event loop, and migrations run one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(migrate, postgres.database(TEMPLATE)).result()
    return postgres


@pytest.fixture
def open_registry(request: pytest.FixtureRequest, tmp_path: Path, aiohttp_client: Any
                  ) -> Callable[[str], Awaitable[SearchRegistry]]:
    async def open_registry(backend: str) -> SearchRegistry:
        data_dir = tmp_path / backend
        data_dir.mkdir()
        if backend == "postgresql":
            cluster: PostgresCluster = request.getfixturevalue("migrated_postgres")
            url = cluster.database(f"berth_search_{next(_databases)}", template=TEMPLATE)
        else:
            url = f"sqlite+aiosqlite:///{data_dir / 'registry.db'}"
        settings = load_settings({"data_dir": data_dir, "workers": 1, "auth": "token", "database_url": url,
                                  "admin_password": ADMIN_PASSWORD}, env={})
        await asyncio.to_thread(migrate, url)  # a no-op for the copy of the migrated template
        await asyncio.to_thread(bootstrap, settings)
        return SearchRegistry(backend, await aiohttp_client(create_app(settings)))
    return open_registry


@pytest.fixture(params=BACKENDS)
async def search_registry(request: pytest.FixtureRequest,
                          open_registry: Callable[[str], Awaitable[SearchRegistry]]) -> AsyncIterator[SearchRegistry]:
    yield await open_registry(request.param)
