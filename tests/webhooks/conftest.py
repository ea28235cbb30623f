"""Webhooks in-process: the JSON API's registry (users alice and bobby) with a fast delivery policy, a
receiver on 127.0.0.1 that each test runs itself, and pushes through the v2 API."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDictProxy

from registry.api.hub.webhooks import DELIVERY_POLICY
from registry.app import create_app
from registry.bootstrap import bootstrap
from registry.db.migrate import migrate
from registry.services.webhooks import DeliveryPolicy
from registry.settings import Settings

from ..api.oci import push_image
from ..api_v1.conftest import ALICE, Api, Credentials, api, audit_log  # noqa: F401
from ..auth.conftest import admin_session, as_caller, token_settings  # noqa: F401

# Fast enough for tests, slow enough that each step can be seen in the delivery log.
FAST = DeliveryPolicy(backoff=(0.3, 0.6, 1.2), poll_interval=0.02, timeout=2.0, lease=5.0)
CLOSE, HANG = "close", "hang"  # a receiver's answers besides HTTP statuses
WAIT = 15.0  # seconds a test waits for something that should take well under one


@pytest.fixture
def policy() -> DeliveryPolicy:
    """The delivery policy of the registry under test; a test parametrizes `policy` to change it."""
    return FAST


async def start_registry(settings: Settings, policy: DeliveryPolicy, aiohttp_client: Any) -> TestClient:
    app = create_app(settings)
    app[DELIVERY_POLICY] = policy
    return await aiohttp_client(app)


@pytest.fixture
async def registry(token_settings: Settings, policy: DeliveryPolicy, aiohttp_client) -> TestClient:  # noqa: F811
    """The token-auth registry of tests/auth (admin / ADMIN_PASSWORD), delivering webhooks by `policy`."""
    token_settings.data_dir.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(migrate, token_settings.database_url)
    await asyncio.to_thread(bootstrap, token_settings)
    return await start_registry(token_settings, policy, aiohttp_client)


@dataclass(frozen=True)
class Received:
    path: str
    headers: CIMultiDictProxy[str]
    body: bytes
    at: float  # time.monotonic() on arrival


class Receiver:
    """A webhook endpoint on 127.0.0.1. It answers the requests in turn as `answers` says (an HTTP status,
    CLOSE to drop the connection unanswered, HANG never to answer), then each further one with `then`,
    after `delay` seconds. `stop()` takes it down; `start()` brings it back on the same port."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: list[int | str] = []
        self.then: int | str = 200
        self.delay = 0.0
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._receive)
        # A hanging request must not hold up the test's teardown.
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        self.received.append(Received(request.path, request.headers, await request.read(), time.monotonic()))
        answer = self.answers.pop(0) if self.answers else self.then
        await asyncio.sleep(self.delay)
        if answer == HANG:
            await asyncio.sleep(3600)
        if answer == CLOSE:
            assert request.transport is not None
            request.transport.close()
        return web.Response(status=answer if isinstance(answer, int) else 200)

    async def wait_for(self, count: int, within: float = WAIT) -> list[Received]:
        """The first `count` requests, once they have come."""
        await eventually(lambda: len(self.received) >= count, within, f"{count} request(s) to the receiver")
        return self.received[:count]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    await found.start()
    yield found
    await found.stop()


async def eventually(condition: Callable[[], bool], within: float = WAIT, what: str = "the condition") -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {within} s for {what}")
        await asyncio.sleep(0.01)


def signature(secret: str, body: bytes) -> str:
    """GitHub's scheme, computed here rather than imported, so that the server cannot agree with itself."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def push(registry: TestClient, repository: str, tag: str, credentials: tuple[str, str] = ALICE) -> Any:
    """Push a small image as `credentials` through the v2 API, as a docker client does; return its manifest."""
    caller = await as_caller(registry, f"repository:{repository}:pull,push", credentials=credentials)
    return await push_image(caller, repository, tag)  # type: ignore[arg-type]


def hooks_path(repository: str) -> str:
    return f"/repositories/{repository}/webhooks"


async def create_hook(api: Api, repository: str, url: str, name: str = "ci",  # noqa: F811
                      credentials: Credentials = ALICE) -> dict[str, Any]:
    answer = await api("POST", hooks_path(repository), credentials, {"name": name, "url": url})
    assert answer.status == 201, answer.body
    return dict(answer.body)


async def deliveries(api: Api, repository: str, credentials: Credentials = ALICE,  # noqa: F811
                     limit: int = 100) -> list[dict[str, Any]]:
    answer = await api("GET", hooks_path(repository) + f"/deliveries?limit={limit}", credentials)
    assert answer.status == 200, answer.body
    return list(answer.body["deliveries"])


async def log_when(api: Api, repository: str,  # noqa: F811
                   condition: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """The repository's delivery log, once `condition` holds for it."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = await deliveries(api, repository)
        if condition(found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"the delivery log never got there: {found}")


def fast(**changes: Any) -> DeliveryPolicy:
    return dataclasses.replace(FAST, **changes)

