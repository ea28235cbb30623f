"""Password guessing: failed logins are limited per account and per client address, in windows that end.

The limits are shortened here by replacing the gatekeeper's LoginLimits, as an operator's settings would.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import keys
from registry.db.accounts import LoginFailure
from registry.services import accounts
from registry.services.logins import LoginLimits, limit_keys

from .conftest import basic

ALICE = ("alice", "alice-password")
BOB = ("bobby", "bobby-password")


@pytest.fixture
async def users(registry, admin_session):
    async def setup(session):
        for user in (ALICE, BOB):
            await accounts.create_user(session, *user)
    await admin_session(setup)


def limit(registry, **limits) -> LoginLimits:
    registry.app[keys.gatekeeper].login_limits = found = LoginLimits(**limits)
    return found


# Each way a client logs in with a password; all count against the same limits.
async def login_token_get(registry, username, password):
    return await registry.get("/token", params={"service": "berth"}, headers=basic(username, password))


async def login_token_post(registry, username, password):
    return await registry.post("/token", data={"grant_type": "password", "username": username,
                                               "password": password, "service": "berth"})


async def login_v2_basic(registry, username, password):
    return await registry.get("/v2/", headers=basic(username, password))


LOGINS = {"GET /token": login_token_get, "POST /token": login_token_post, "Basic on /v2": login_v2_basic}


async def assert_limited(response, window_seconds: int) -> None:
    assert response.status == 429
    assert [e["code"] for e in (await response.json())["errors"]] == ["TOOMANYREQUESTS"]
    assert 0 < int(response.headers["Retry-After"]) <= window_seconds


@pytest.mark.parametrize("guess_with", LOGINS)
@pytest.mark.parametrize("then_with", LOGINS)
async def test_too_many_wrong_passwords_lock_the_account_for_a_while(registry, users, guess_with, then_with):
    limit(registry, per_account=3, per_address=100, window=timedelta(minutes=5))
    for _ in range(3):
        assert (await LOGINS[guess_with](registry, "alice", "wrong-password")).status == 401
    await assert_limited(await LOGINS[then_with](registry, "alice", "wrong-password"), 300)
    # Even the right password is refused while the account is limited (else guessing would go on).
    await assert_limited(await LOGINS[then_with](registry, *ALICE), 300)
    await assert_limited(await LOGINS[then_with](registry, "ALICE", "alice-password"), 300)
    # Another account, from the same address, is not affected.
    assert (await LOGINS[then_with](registry, *BOB)).status == 200


async def test_the_default_limit_is_ten_per_account(registry, users):
    for _ in range(10):
        assert (await login_token_get(registry, "alice", "wrong-password")).status == 401
    response = await login_token_get(registry, *ALICE)
    await assert_limited(response, 300)
    assert int(response.headers["Retry-After"]) >= 290


async def test_a_good_login_before_the_limit_clears_the_account_count(registry, users):
    limit(registry, per_account=3, per_address=100)
    for _ in range(2):
        assert (await login_token_get(registry, "alice", "wrong-password")).status == 401
    assert (await login_token_get(registry, *ALICE)).status == 200
    for _ in range(2):
        assert (await login_token_get(registry, "alice", "wrong-password")).status == 401
    assert (await login_token_post(registry, *ALICE)).status == 200


async def test_too_many_failures_from_one_address_limit_every_account(registry, users):
    limit(registry, per_account=100, per_address=4)
    for name in ("nobody1", "nobody2", "alice", "nobody3"):  # spread over accounts, existing or not
        assert (await login_token_get(registry, name, "wrong-password")).status == 401
    await assert_limited(await login_token_get(registry, *BOB), 300)
    await assert_limited(await login_v2_basic(registry, *BOB), 300)
    # The address is the connection's: a forwarded-for header claimed by the client changes nothing.
    spoofed = await registry.get("/token", params={"service": "berth"},
                                 headers={**basic(*BOB), "X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"})
    await assert_limited(spoofed, 300)


@pytest.mark.parametrize("which", ["account", "address"])
async def test_the_limit_lifts_when_the_window_ends(registry, users, which):
    window = timedelta(seconds=1)
    if which == "account":
        limit(registry, per_account=2, per_address=100, window=window)
    else:
        limit(registry, per_account=100, per_address=2, window=window)
    for _ in range(2):
        assert (await login_token_get(registry, "alice", "wrong-password")).status == 401
    await assert_limited(await login_token_get(registry, *ALICE), 1)
    await asyncio.sleep(1.2)
    assert (await login_token_get(registry, *ALICE)).status == 200


async def test_limited_logins_are_counted_but_not_checked(registry, users):
    """While limited, guesses are not even checked: a right guess would otherwise be learnt from timing or
    from the answer changing once the window ends."""
    limit(registry, per_account=2, per_address=100, window=timedelta(seconds=1))
    for _ in range(2):
        assert (await login_token_get(registry, "alice", "wrong-password")).status == 401
    for _ in range(5):
        await assert_limited(await login_token_get(registry, "alice", "wrong-password"), 1)
    await asyncio.sleep(1.2)
    assert (await login_token_get(registry, "alice", "wrong-password")).status == 401
    assert (await login_token_get(registry, *ALICE)).status == 200


async def test_failures_at_the_same_moment_are_each_counted(registry, users, admin_session):
    """Guesses sent all at once count one each: on PostgreSQL their transactions overlap, and a count read
    and then written back would lose all but one of them (and hand a guesser its attempts many times over)."""
    limit(registry, per_account=1000, per_address=1000, window=timedelta(minutes=5))
    answers = await asyncio.gather(*(login_token_get(registry, "alice", f"guess-{n}") for n in range(24)))
    assert {answer.status for answer in answers} == {401}
    keys_ = limit_keys("alice", "127.0.0.1").values()
    counts = await admin_session(lambda session: session.execute(
        select(LoginFailure.key, LoginFailure.count).where(LoginFailure.key.in_(keys_))))
    assert dict(counts.all()) == {"account:alice": 24, "address:127.0.0.1": 24}
