"""Retention policies: which tags a policy keeps, and the collector applying it (tags, then the manifests
and blobs only they held)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from registry.db.models import Repository, Tag
from registry.services import retention
from registry.services.retention import Policy, doomed_tags

from ..api.oci import push_image
from .conftest import GcRegistry
from .test_collection import pull_everything

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def pushed(*ages: tuple[str, int]) -> list[tuple[str, datetime]]:
    """(tag, pushed so many days ago)."""
    return [(name, NOW - timedelta(days=days)) for name, days in ages]


def test_keep_last_keeps_the_most_recently_pushed_matching_tags():
    tags = pushed(("v1", 30), ("v2", 20), ("v3", 10), ("latest", 40), ("v4", 1))
    assert doomed_tags(Policy("v*", keep_last=2), tags, NOW) == ["v1", "v2"]
    assert doomed_tags(Policy("*", keep_last=0), tags, NOW) == ["latest", "v1", "v2", "v3", "v4"]


def test_keep_days_and_keep_last_together_keep_what_either_keeps():
    tags = pushed(("pr-1", 30), ("pr-2", 8), ("pr-3", 5), ("pr-4", 2), ("main", 90))
    assert doomed_tags(Policy("pr-*", keep_days=7), tags, NOW) == ["pr-1", "pr-2"]
    assert doomed_tags(Policy("pr-*", keep_last=3, keep_days=1), tags, NOW) == ["pr-1"]
    assert doomed_tags(Policy("pr-[12]", keep_days=0), tags, NOW) == ["pr-1", "pr-2"]


@pytest.mark.parametrize("fields", [{}, {"keep_last": -1}, {"keep_days": 10**6}, {"keep_last": 1, "tag_pattern": ""},
                                    {"keep_last": 1, "tag_pattern": "a b"}])
def test_a_policy_that_keeps_nothing_in_particular_or_is_malformed_is_refused(fields):
    with pytest.raises(ValueError):
        Policy(**fields)


async def test_the_collector_applies_policies_and_frees_what_only_the_deleted_tags_held(gc_registry: GcRegistry):
    client = gc_registry.client
    images = {tag: await push_image(client, "lib/app", tag) for tag in ("v1", "v2", "v3", "latest")}
    both = await push_image(client, "lib/app", "v0")
    assert (await client.put("/v2/lib/app/manifests/stable", data=both.data,
                             headers={"Content-Type": both.media_type})).status == 201  # v0's manifest, tagged twice
    for days, tag in enumerate(("v3", "v2", "v1", "v0")):  # v3 newest
        await gc_registry.sql(update(Tag).where(Tag.name == tag).values(updated_at=NOW - timedelta(days=days + 1)))
    async with gc_registry.db.write() as session:
        await retention.set_policy(session, "lib/app", Policy("v*", keep_last=1))
    async with gc_registry.db.read() as session:
        assert await retention.preview(session, "lib/app") == ["v0", "v1", "v2"]

    dry = await gc_registry.collect(dry_run=True)
    assert (dry.tags_deleted, dry.manifests_deleted) == (3, 2)
    report = await gc_registry.collect()
    assert (report.tags_deleted, report.manifests_deleted, report.blobs_deleted) == (3, 2, 2)  # two layers
    tags = (await (await client.get("/v2/lib/app/tags/list")).json())["tags"]
    assert tags == ["latest", "stable", "v3"]
    for tag in ("v3", "latest"):
        await pull_everything(gc_registry, "lib/app", images[tag])
    await pull_everything(gc_registry, "lib/app", both)  # still tagged `stable`


async def test_a_policy_goes_with_its_repository(gc_registry: GcRegistry):
    await push_image(gc_registry.client, "lib/app", "v1")
    async with gc_registry.db.write() as session:
        await retention.set_policy(session, "lib/app", Policy(keep_days=1))
    await gc_registry.sql(delete(Repository))
    async with gc_registry.db.read() as session:
        assert await retention.repositories_with_policies(session) == []  # type: ignore[arg-type]
