"""Several workers on one database: each delivery is claimed by one of them at a time, and a claim that
outlives its worker (a crash mid-send) lapses so that another worker sends the delivery again."""

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from registry.db import Database
from registry.db.migrate import migrate
from registry.services import webhooks
from registry.services.repositories import ensure_repository

from ..support.databases import postgres_cluster
from ..support.postgres import PostgresCluster
from .conftest import create_hook, fast, log_when, push, start_registry

MANY = fast(poll_interval=0.005, batch=3)


@pytest.mark.parametrize("policy", [MANY])
async def test_two_workers_never_send_one_delivery_twice(api, registry, token_settings, policy, aiohttp_client,
                                                         receiver):
    second = await start_registry(token_settings, policy, aiohttp_client)  # another worker, the same database
    assert second.app is not registry.app
    await push(registry, "alice/app", "v0")
    for name in ("one", "two", "three"):
        await create_hook(api, "alice/app", receiver.url, name=name)
    receiver.delay = 0.05  # so that both workers have claims in flight at once
    tags = [f"v{i}" for i in range(8)]
    await asyncio.gather(*(push(registry if i % 2 else second, "alice/app", tag) for i, tag in enumerate(tags)))

    received = await receiver.wait_for(24)
    log = await log_when(api, "alice/app", lambda log: len(log) == 24 and all(d["state"] == "delivered" for d in log))
    await asyncio.sleep(0.3)
    ids = [r.headers["X-Berth-Delivery"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 24, sorted(ids)
    assert {d["attempts"] for d in log} == {1}
    assert sorted(json.loads(r.body)["push_data"]["tag"] for r in received) == sorted(tags * 3)


@pytest.fixture(scope="module")
def postgres() -> PostgresCluster:
    return postgres_cluster()  # the session's one cluster (stopped by tests/conftest.py)


@pytest.fixture(params=["sqlite", "postgresql"])
async def databases(request, settings) -> AsyncIterator[tuple[Database, Database]]:
    """Two engines on one migrated database, as two worker processes have (and no app polling it)."""
    if request.param == "sqlite":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{settings.data_dir / 'registry.db'}"  # this side's, whatever the run's
    else:
        url = await asyncio.to_thread(request.getfixturevalue("postgres").database, "webhooks")
    await asyncio.to_thread(migrate, url)
    pair = Database(url), Database(url)
    yield pair
    for database in pair:
        await database.close()


async def _outbox(database: Database, count: int) -> None:
    """`count` pending deliveries of one webhook, due now."""
    async with database.write() as session:
        await ensure_repository(session, "alice/app")
        await webhooks.create_webhook(session, "alice/app", "ci", "http://127.0.0.1:9/hook")
        await webhooks.enqueue_push(session, "alice/app", [f"v{i}" for i in range(count)], "alice",
                                    "http://x/{id}/callback?token={token}", "http://x/r/alice/app")


async def test_concurrent_claims_from_two_engines_take_each_delivery_once(databases):
    await _outbox(databases[0], 60)
    policy = webhooks.DeliveryPolicy(batch=7)
    claimed: list[int] = []
    while len(claimed) < 60:
        rounds = await asyncio.gather(*(webhooks.claim_due(db, policy) for _ in range(4) for db in databases))
        assert any(rounds), claimed
        claimed += [claim.id for found in rounds for claim in found]
    assert len(claimed) == len(set(claimed)) == 60
    assert await webhooks.claim_due(databases[1], policy) == []  # all of them leased


async def test_a_dead_workers_claim_lapses_and_its_late_outcome_is_ignored(databases):
    first, second = databases
    await _outbox(first, 1)
    policy = webhooks.DeliveryPolicy(lease=0.4, timeout=0.1)
    [dead] = await webhooks.claim_due(first, policy)
    assert await webhooks.claim_due(second, policy) == []
    await asyncio.sleep(0.5)
    [retry] = await webhooks.claim_due(second, policy)
    assert (retry.id, retry.body, dead.attempt, retry.attempt) == (dead.id, dead.body, 1, 2)
    assert await webhooks.record_outcome(first, dead, 200, None, policy) == "stale"
    assert await webhooks.record_outcome(second, retry, 500, "the receiver answered HTTP 500", policy) == "pending"
    async with first.read() as session:
        [logged] = await webhooks.recent_deliveries(session, "alice/app")
    assert (logged.state, logged.attempts, logged.last_status, logged.webhook_name) == ("pending", 2, 500, "ci")


@pytest.mark.parametrize("changes", [{"timeout": 10, "lease": 5}, {"poll_interval": 0}, {"batch": 0},
                                     {"backoff": (10, 0)}])
def test_a_policy_that_cannot_work_is_refused(changes):
    with pytest.raises(ValueError):
        webhooks.DeliveryPolicy(**changes)
