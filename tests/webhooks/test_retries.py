"""Receivers that fail: retries with backoff until one answers 2xx, giving up after the last step, a push
that never waits for a receiver, and a deleted webhook that is called no more."""

import asyncio
import json
import time

import pytest
from sqlalchemy import func, select

from registry.db.hub import WebhookDelivery

from ..api_v1.conftest import ALICE
from .conftest import CLOSE, HANG, create_hook, fast, hooks_path, log_when, push


def only(log):
    assert len(log) == 1, log
    return log[0]


@pytest.mark.parametrize("policy", [fast(backoff=(0.4, 0.8, 1.2, 5.0))])
async def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(api, registry, receiver, policy):
    await push(registry, "alice/app", "v0")
    await create_hook(api, "alice/app", receiver.url)
    receiver.answers = [500, CLOSE]
    await push(registry, "alice/app", "v1")

    await receiver.wait_for(1)
    first = only(await log_when(api, "alice/app", lambda log: log and log[0]["last_status"] == 500))
    assert (first["state"], first["attempts"], first["delivered_at"]) == ("pending", 1, None)
    assert "500" in first["last_error"] and first["next_attempt_at"]

    await receiver.wait_for(2)  # this one has its connection closed under it
    second = only(await log_when(api, "alice/app", lambda log: log[0]["attempts"] == 2 and log[0]["last_error"]
                                 and log[0]["last_status"] is None))
    assert second["state"] == "pending" and "disconnected" in second["last_error"].lower()

    await receiver.stop()  # the third attempt finds nobody listening
    third = only(await log_when(api, "alice/app", lambda log: log[0]["attempts"] == 3 and log[0]["last_error"]
                                and "connect" in log[0]["last_error"].lower()))
    assert (third["state"], third["last_status"]) == ("pending", None)
    await receiver.start()  # back, on the same port, answering 200

    [*_, fourth] = await receiver.wait_for(3)
    done = only(await log_when(api, "alice/app", lambda log: log[0]["state"] == "delivered"))
    assert (done["attempts"], done["last_status"], done["last_error"]) == (4, 200, None)
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1 and json.loads(fourth.body)["push_data"]["tag"] == "v1"  # the same delivery, resent
    assert len({r.headers["X-Berth-Delivery"] for r in receiver.received}) == 1
    first_gap = receiver.received[1].at - receiver.received[0].at
    next_gaps = fourth.at - receiver.received[1].at  # two steps: 0.8 then 1.2 seconds
    assert first_gap >= 0.4 and next_gaps >= 0.8 + 1.2, (first_gap, next_gaps)
    await asyncio.sleep(0.5)
    assert len(receiver.received) == 3  # delivered: never sent again


@pytest.mark.parametrize("policy", [fast(backoff=(0.1, 0.2))])
async def test_a_delivery_fails_once_the_backoff_is_used_up(api, registry, receiver, policy):
    await push(registry, "alice/app", "v0")
    await create_hook(api, "alice/app", receiver.url)
    receiver.then = 503
    await push(registry, "alice/app", "v1")
    failed = only(await log_when(api, "alice/app", lambda log: log and log[0]["state"] == "failed"))
    assert (failed["attempts"], failed["last_status"], failed["next_attempt_at"]) == (3, 503, None)
    await asyncio.sleep(0.6)  # twice the last step: a pending delivery would have been tried again
    assert len(receiver.received) == 3


@pytest.mark.parametrize("policy", [fast(timeout=3.0)])
async def test_the_push_returns_at_once_while_the_receiver_hangs(api, registry, receiver, policy):
    """Each push is timed alone (a loaded machine may take a while to deliver): neither waits out any part of
    the 3 s the hanging receiver is given."""
    await push(registry, "alice/app", "v0")
    await create_hook(api, "alice/app", receiver.url)
    receiver.answers = [HANG]
    started = time.monotonic()
    await push(registry, "alice/app", "v1")
    assert time.monotonic() - started < 2.0
    await receiver.wait_for(1)
    started = time.monotonic()
    await push(registry, "alice/app", "v2")  # while the first delivery hangs
    assert time.monotonic() - started < 2.0

    log = await log_when(api, "alice/app", lambda log: len(log) == 2 and {d["state"] for d in log} == {"delivered"})
    v2, v1 = log
    assert (v2["attempts"], v2["last_status"]) == (1, 200)
    assert (v1["attempts"], v1["last_status"]) == (2, 200)
    assert sorted(json.loads(r.body)["push_data"]["tag"] for r in receiver.received) == ["v1", "v1", "v2"]


@pytest.mark.parametrize("policy", [fast(backoff=(0.3, 0.3, 0.3, 0.3))])
async def test_deleting_a_webhook_stops_its_deliveries(api, registry, admin_session, receiver):
    await push(registry, "alice/app", "v0")
    doomed = await create_hook(api, "alice/app", receiver.url, name="doomed")
    await create_hook(api, "alice/app", receiver.url.replace("/hook", "/kept"), name="kept")
    receiver.then = 500
    await push(registry, "alice/app", "v1")
    await receiver.wait_for(2)

    answer = await api("DELETE", hooks_path("alice/app") + f"/{doomed['id']}", ALICE)
    assert answer.status == 204
    assert [h["name"] for h in (await api("GET", hooks_path("alice/app"), ALICE)).body["webhooks"]] == ["kept"]
    paths_before = [r.path for r in receiver.received]
    await asyncio.sleep(1.2)  # four backoff steps
    later = [r.path for r in receiver.received][len(paths_before):]
    assert later and set(later) == {"/kept"}  # the kept webhook's delivery is still being retried

    receiver.then = 200
    await push(registry, "alice/app", "v2")
    await log_when(api, "alice/app", lambda log: all(d["state"] == "delivered" for d in log)
                   and {d["webhook"] for d in log} == {"kept"} and len(log) == 2)
    assert "/hook" not in [r.path for r in receiver.received][len(paths_before):]
    left = await admin_session(lambda s: s.scalar(select(func.count()).select_from(WebhookDelivery)
                                                  .where(WebhookDelivery.webhook_id == doomed["id"])))
    assert left == 0
    again = await api("DELETE", hooks_path("alice/app") + f"/{doomed['id']}", ALICE)
    assert again.status == 404
