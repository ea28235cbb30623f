"""The SQL filter listings use agrees with the per-repository access check, for every caller and repo."""

from __future__ import annotations

import random

from sqlalchemy import select, update

from registry.db.models import Repository
from registry.services import accounts
from registry.services.access import ANONYMOUS, READ, readable_condition, repository_level
from registry.services.credentials import principal_named
from registry.services.repositories import ensure_repository

NAMES = ["busybox", "library/alpine", "alice/app", "alice/secret", "bobby/tool", "acme/public", "acme/private",
         "acme/team-only", "acme/robot-only", "other/thing", "aliceb/lookalike", "acmes/lookalike"]


async def _world(session) -> None:  # type: ignore[no-untyped-def]
    for user in ("alice", "bobby", "carol", "aliceb"):
        await accounts.create_user(session, user, f"{user}-password")
    await accounts.create_organization(session, "acme", "alice")
    await accounts.create_organization(session, "acmes", "carol")
    for name in NAMES:
        await ensure_repository(session, name)
    rng = random.Random(7)
    private = [n for n in NAMES if rng.random() < 0.7 or "private" in n or "only" in n or "secret" in n]
    await session.execute(update(Repository).where(Repository.name.in_(private)).values(is_private=True))
    await accounts.create_team(session, "acme", "readers", "read")
    await accounts.add_team_member(session, "acme", "readers", "bobby")
    await accounts.create_team(session, "acme", "narrow")
    await accounts.grant_team(session, "acme", "narrow", "write", "acme/team-only")
    await accounts.add_team_member(session, "acme", "narrow", "carol")
    await accounts.create_robot(session, "acme", "ci")
    await accounts.grant_robot(session, "acme", "ci", "acme/robot-only", "read")


async def test_the_listing_filter_matches_repository_level_for_every_caller(registry, admin_session):
    await admin_session(_world)

    async def check(session) -> list[tuple[str, str, bool, bool]]:  # type: ignore[no-untyped-def]
        mismatches = []
        for caller in ("", "admin", "alice", "bobby", "carol", "aliceb", "acme+ci"):
            principal = await principal_named(session, caller) if caller else ANONYMOUS
            listed = set(await session.scalars(select(Repository.name).where(
                await readable_condition(session, principal))))
            for name in NAMES:
                expected = await repository_level(session, principal, name) >= READ
                if (name in listed) != expected:
                    mismatches.append((caller, name, name in listed, expected))
        return mismatches

    assert await admin_session(check) == []
