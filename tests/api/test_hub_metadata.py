"""The Hub's metadata of a push: tag sizes and platforms, last pushed, pull counts in batches, stars."""

from __future__ import annotations

from registry import keys
from registry.services import hub
from registry.services.access import ANONYMOUS, readable_condition

from .oci import OCI_INDEX, index, push_image, push_manifest

# What push_image stores: its config and one 256-byte layer.
IMAGE_SIZE = len(b'{"architecture":"amd64","os":"linux"}') + 256


async def test_a_push_records_size_platform_and_time(client):
    image = await push_image(client, "meta/app", "v1")
    async with client.app[keys.database].read() as session:
        tags = await hub.tags(session, "meta/app")
        view = await hub.repository(session, "meta/app")
    assert [t.name for t in tags] == ["v1"] and tags[0].digest == image.digest
    assert tags[0].platforms == ("linux/amd64",)
    assert tags[0].size == IMAGE_SIZE
    assert view is not None and view.last_pushed_at is not None


async def test_an_index_lists_its_children_platforms_and_sums_sizes(client):
    amd = await push_image(client, "meta/multi")
    arm = await push_image(client, "meta/multi")
    multi = index([amd, arm], platforms=[("linux", "amd64"), ("linux", "arm64")])
    await push_manifest(client, "meta/multi", "all", multi)
    async with client.app[keys.database].read() as session:
        (tag,) = await hub.tags(session, "meta/multi")
    assert tag.media_type == OCI_INDEX and tag.platforms == ("linux/amd64", "linux/arm64")
    assert tag.size == 2 * IMAGE_SIZE


async def test_pulls_are_counted_on_manifest_gets_and_written_in_batches(client):
    await push_image(client, "meta/pulled", "v1")
    for _ in range(5):
        assert (await client.get("/v2/meta/pulled/manifests/v1")).status == 200
    assert (await client.head("/v2/meta/pulled/manifests/v1")).status == 200  # a HEAD is no pull
    async with client.app[keys.database].read() as session:
        before = await hub.repository(session, "meta/pulled")
    await client.app[keys.pulls].flush_pull_counts(client.app[keys.database])
    async with client.app[keys.database].read() as session:
        after = await hub.repository(session, "meta/pulled")
    assert before is not None and before.pull_count == 0
    assert after is not None and after.pull_count == 5


async def test_stars_are_one_per_user_and_toggle(client):
    from registry.services import accounts
    await push_image(client, "meta/starred", "v1")
    async with client.app[keys.database].write() as session:
        alice = await accounts.create_user(session, "alice", "alice-password")
        bobby = await accounts.create_user(session, "bobby", "bobby-password")
        assert await hub.set_star(session, alice.id, "meta/starred", True) == 1
        assert await hub.set_star(session, alice.id, "meta/starred", True) == 1
        assert await hub.set_star(session, bobby.id, "meta/starred", True) == 2
        assert await hub.set_star(session, alice.id, "meta/starred", False) == 1
        assert await hub.is_starred(session, bobby.id, "meta/starred")
        assert not await hub.is_starred(session, alice.id, "meta/starred")


async def test_listing_orders_and_pages(client):
    for name in ("list/a", "list/b", "list/c"):
        await push_image(client, name, "v1")
    async with client.app[keys.database].read() as session:
        readable = await readable_condition(session, ANONYMOUS)
        total, page = await hub.listing(session, readable, namespace="list", order="name", page=2, page_size=2)
    assert total == 3 and [r.name for r in page] == ["list/c"]


def test_markdown_is_rendered_without_script_or_raw_html():
    html = hub.render_markdown("# Title\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
                               "<img src=x onerror=alert(1)>\n\n**bold**")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
