"""A real `berth-registry serve` with two worker processes and the default delivery policy: every push is
delivered, each delivery once, whichever worker took the push and whichever sends it."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.accounts import ADMIN, TokenRegistry

from ..api.oci import push_image
from ..auth.conftest import AsCaller, basic, bearer, token_for
from .conftest import signature

pytestmark = pytest.mark.e2e
REPOSITORY = "library/hooked"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TokenRegistry]:
    process = TokenRegistry(tmp_path, workers=2)
    await asyncio.to_thread(process.start)
    yield process
    await asyncio.to_thread(process.stop)


async def test_a_two_worker_server_delivers_each_push_once(server, receiver):
    admin = (ADMIN, server.admin_password)
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(base_url=server.url, connector=connector) as client:
        token = (await token_for(client, f"repository:{REPOSITORY}:pull,push", credentials=admin))["token"]
        pusher = AsCaller(client, bearer(token))  # type: ignore[arg-type]
        await push_image(pusher, REPOSITORY, "v0")  # type: ignore[arg-type]
        hooks = f"/api/v1/repositories/{REPOSITORY}/webhooks"
        secrets = {}
        for name in ("one", "two"):
            async with client.post(hooks, json={"name": name, "url": f"{receiver.url}/{name}"},
                                   headers=basic(*admin)) as answer:
                assert answer.status == 201, await answer.text()
                secrets[f"/hook/{name}"] = (await answer.json())["secret"]
        tags = [f"v{i}" for i in range(1, 7)]
        # Pushes on separate connections (force_close), so that both workers take some of them.
        await asyncio.gather(*(push_image(pusher, REPOSITORY, tag) for tag in tags))  # type: ignore[arg-type]

        received = await receiver.wait_for(12, within=30)
        async with client.get(hooks + "/deliveries?limit=50", headers=basic(*admin)) as answer:
            log = (await answer.json())["deliveries"]
    await asyncio.sleep(1.5)  # longer than a poll: a second send would have come by now
    assert len(receiver.received) == 12
    assert len({r.headers["X-Berth-Delivery"] for r in received}) == 12
    for got in received:
        assert got.headers["X-Berth-Signature-256"] == signature(secrets[got.path], got.body)
    assert sorted(json.loads(r.body)["push_data"]["tag"] for r in received) == sorted(tags * 2)
    assert len(log) == 12 and all(d["attempts"] == 1 for d in log)
