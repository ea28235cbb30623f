"""Storage quotas per namespace: a push that would go over answers 403 DENIED; a blob shared by the
namespace's repositories counts once; what the collector frees comes off the usage."""

from __future__ import annotations

from registry.services import quotas

from ..api.oci import error_codes, push_blob, push_post_put, random_blob
from .conftest import GcRegistry


async def set_quota(registry: GcRegistry, namespace: str, limit: int | None) -> None:
    async with registry.db.write() as session:
        await quotas.set_quota(session, namespace, limit)


async def usage(registry: GcRegistry, namespace: str) -> quotas.Usage:
    async with registry.db.read() as session:
        return await quotas.usage(session, namespace)


async def test_a_push_over_the_quota_is_denied_and_a_shared_blob_counts_once(gc_registry: GcRegistry):
    client = gc_registry.client
    await set_quota(gc_registry, "acme", 1500)
    first, second = random_blob(1000), random_blob(600)
    await push_blob(client, "acme/app", first)
    await push_blob(client, "acme/other", first)  # the same blob in another repository: no more bytes
    mounted = await client.post(f"/v2/acme/third/blobs/uploads/?mount={first.digest}&from=acme/app")
    assert mounted.status == 201
    assert await usage(gc_registry, "acme") == quotas.Usage("acme", 1000, 1, 1500)

    denied = await push_post_put(client, "acme/app", second)
    assert denied.status == 403 and await error_codes(denied) == ["DENIED"]
    assert "quota" in (await denied.json())["errors"][0]["message"]
    assert (await client.head(f"/v2/acme/app/blobs/{second.digest}")).status == 404
    assert not gc_registry.blob_file(second.digest).exists()  # refused before its bytes were committed
    refused_mount = await client.post(f"/v2/acme/app/blobs/uploads/?mount={second.digest}&from=elsewhere/x")
    assert refused_mount.status == 202  # nothing to mount: an upload starts instead

    await push_blob(client, "other/app", second)  # other namespaces are not limited
    await set_quota(gc_registry, "acme", None)
    await push_blob(client, "acme/app", second)
    assert await usage(gc_registry, "acme") == quotas.Usage("acme", 1600, 2, None)


async def test_the_official_namespace_holds_single_component_names(gc_registry: GcRegistry):
    await set_quota(gc_registry, "library", 100)
    denied = await push_post_put(gc_registry.client, "busybox", random_blob(200))
    assert denied.status == 403
    await push_blob(gc_registry.client, "library-like/app", random_blob(200))  # not in `library`
    assert (await usage(gc_registry, "library")).used_bytes == 0


async def test_collecting_what_a_namespace_no_longer_references_frees_its_quota(gc_registry: GcRegistry):
    await set_quota(gc_registry, "acme", 1000)
    await push_blob(gc_registry.client, "acme/app", random_blob(900))
    assert (await push_post_put(gc_registry.client, "acme/app", random_blob(900))).status == 403
    await gc_registry.collect()
    assert (await usage(gc_registry, "acme")).used_bytes == 0
    await push_blob(gc_registry.client, "acme/app", random_blob(900))
