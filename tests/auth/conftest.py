"""An in-process registry with token authentication, an administrator, and helpers to act as someone."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry import keys
from registry.app import create_app
from registry.bootstrap import bootstrap
from registry.db.migrate import migrate
from registry.settings import Settings

ADMIN_PASSWORD = "admin-password"


@pytest.fixture
def token_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, auth="token", admin_password=ADMIN_PASSWORD)


@pytest.fixture
async def registry(token_settings: Settings, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    """A token-auth registry whose administrator is `admin` / ADMIN_PASSWORD."""
    token_settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate, token_settings.database_url)
    await asyncio.to_thread(bootstrap, token_settings)
    return await aiohttp_client(create_app(token_settings))


def basic(username: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()}


async def token_for(client: TestClient, *scopes: str, credentials: tuple[str, str] | None = None,
                    **params: str) -> dict[str, Any]:
    """GET /token as the docker client does; returns the JSON answer (asserting 200)."""
    query = [("service", "berth"), *(("scope", s) for s in scopes), *params.items()]
    response = await client.get("/token", params=query, headers=basic(*credentials) if credentials else {})
    assert response.status == 200, await response.text()
    return await response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_session(registry: TestClient) -> Callable[[Callable[..., Awaitable[Any]]], Awaitable[Any]]:
    """Run `fn(session)` in one committed transaction of the registry's database (to set up accounts)."""
    async def run(fn: Callable[..., Awaitable[Any]]) -> Any:
        async with registry.app[keys.database].write() as session:
            return await fn(session)
    return run
