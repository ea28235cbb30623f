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


# -- acting as someone on the v2 API --------------------------------------------------------------------

class AsCaller:
    """`registry` with `headers` added to every request: the client tests/api/oci.py's push helpers take."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def _send(self, method: str, *args: Any, **kwargs: Any) -> Any:
        kwargs["headers"] = {**kwargs.get("headers", {}), **self.headers}
        return getattr(self.client, method)(*args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._send("get", *args, **kwargs)

    def head(self, *args: Any, **kwargs: Any) -> Any:
        return self._send("head", *args, **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> Any:
        return self._send("post", *args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> Any:
        return self._send("put", *args, **kwargs)

    def patch(self, *args: Any, **kwargs: Any) -> Any:
        return self._send("patch", *args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self._send("delete", *args, **kwargs)


async def as_caller(client: TestClient, *scopes: str, credentials: tuple[str, str] | None = None) -> AsCaller:
    """A client carrying a registry token for `scopes`, got as `credentials` (anonymously when None)."""
    answer = await token_for(client, *scopes, credentials=credentials)
    return AsCaller(client, bearer(answer["token"]))


def challenge_of(response: Any) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer k="v",...` challenge (asserting it is Bearer)."""
    value = response.headers["WWW-Authenticate"]
    scheme, _, rest = value.partition(" ")
    assert scheme == "Bearer", value
    params = {}
    for part in rest.split('",'):
        key, _, quoted = part.partition('="')
        params[key] = quoted.rstrip('"')
    return params
