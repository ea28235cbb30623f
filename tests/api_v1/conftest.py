"""The JSON API in-process: the token-auth registry of tests/auth, users alice and bobby, and a caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from registry.services import accounts, audit

from ..auth.conftest import ADMIN_PASSWORD, admin_session, basic, bearer, registry, token_settings  # noqa: F401

ADMIN = ("admin", ADMIN_PASSWORD)
ALICE = ("alice", "alice-password")
BOBBY = ("bobby", "bobby-password")
Credentials = tuple[str, str] | str | None  # Basic (name, secret), a Bearer token, or nobody


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


def authorization(credentials: Credentials) -> dict[str, str]:
    if credentials is None:
        return {}
    return basic(*credentials) if isinstance(credentials, tuple) else bearer(credentials)


async def call(client: TestClient, method: str, path: str, credentials: Credentials = None,
               body: Any = None, **options: Any) -> Answer:
    headers = {**authorization(credentials), **options.pop("headers", {})}
    if body is not None:
        options["json"] = body
    response = await client.request(method, "/api/v1" + path, headers=headers, **options)
    payload = await response.json() if response.content_type == "application/json" else await response.read()
    return Answer(response.status, payload, response.headers)


Api = Callable[..., Awaitable[Answer]]


@pytest.fixture
async def api(registry: TestClient, admin_session) -> Api:  # noqa: F811
    """`await api(method, path, credentials, body)` against the registry, where alice and bobby exist."""
    async def people(session: Any) -> None:
        await accounts.create_user(session, "alice", ALICE[1], email="alice@example.com")
        await accounts.create_user(session, "bobby", BOBBY[1])
    await admin_session(people)

    async def run(method: str, path: str, credentials: Credentials = None, body: Any = None,
                  **options: Any) -> Answer:
        return await call(registry, method, path, credentials, body, **options)
    return run


@pytest.fixture
def audit_log(admin_session) -> Callable[[], Awaitable[list[dict[str, Any]]]]:  # noqa: F811
    """The audit events, newest first (read straight from the database)."""
    return lambda: admin_session(lambda session: audit.events(session))


def error_code(answer: Answer) -> str:
    return answer.body["errors"][0]["code"]
