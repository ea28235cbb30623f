"""What one collection removes and keeps, on SQLite and PostgreSQL: unreferenced links and blobs after the
grace period, untagged manifests when asked, and nothing a pull still needs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update

from registry.db.models import Blob, Manifest, RepositoryBlob

from ..api.oci import (
    Content,
    error_codes,
    image,
    index,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    random_blob,
    start_upload,
)
from .conftest import GcRegistry


async def blob_status(registry: GcRegistry, repo: str, blob: Content) -> int:
    return (await registry.client.head(f"/v2/{repo}/blobs/{blob.digest}")).status


async def pull_everything(registry: GcRegistry, repo: str, manifest: Content) -> None:
    """GET the manifest by digest and every blob it names, checking each byte (for images and indexes)."""
    response = await registry.client.get(f"/v2/{repo}/manifests/{manifest.digest}",
                                          headers={"Accept": manifest.media_type})
    assert response.status == 200 and await response.read() == manifest.data
    doc = manifest_doc(manifest)
    for descriptor in [doc.get("config"), *doc.get("layers", [])]:
        if descriptor:
            got = await registry.client.get(f"/v2/{repo}/blobs/{descriptor['digest']}")
            assert got.status == 200 and Content(await got.read()).digest == descriptor["digest"]


def manifest_doc(manifest: Content) -> dict:  # type: ignore[type-arg]
    import json
    return json.loads(manifest.data)  # type: ignore[no-any-return]


async def test_a_blob_no_manifest_references_is_collected_after_the_grace_period(gc_registry: GcRegistry):
    blob = random_blob(1000)
    await push_blob(gc_registry.client, "lib/app", blob)
    spared = await gc_registry.collect(grace=timedelta(hours=1))
    assert (spared.blobs_deleted, spared.links_removed) == (0, 0)
    assert await blob_status(gc_registry, "lib/app", blob) == 200

    report = await gc_registry.collect()
    assert (report.links_removed, report.blobs_deleted, report.bytes_freed) == (1, 1, 1000)
    assert await blob_status(gc_registry, "lib/app", blob) == 404
    assert not gc_registry.blob_file(blob.digest).exists()
    assert await gc_registry.scalar(select(func.count()).select_from(Blob)) == 0


async def test_what_a_manifest_needs_stays_and_deleting_it_frees_only_its_own_blobs(gc_registry: GcRegistry):
    client = gc_registry.client
    shared, own_a, own_b = random_blob(300), random_blob(400), random_blob(500)
    config = Content(b'{"architecture":"amd64","os":"linux"}')
    for blob in (shared, own_a, own_b, config):
        await push_blob(client, "lib/app", blob)
    first, second = image(config, [shared, own_a]), image(config, [shared, own_b])
    await push_manifest(client, "lib/app", "one", first)
    await push_manifest(client, "lib/app", "two", second)

    assert (await gc_registry.collect()).blobs_deleted == 0
    await pull_everything(gc_registry, "lib/app", first)

    assert (await client.delete(f"/v2/lib/app/manifests/{first.digest}")).status == 202
    report = await gc_registry.collect()
    assert (report.blobs_deleted, report.bytes_freed) == (1, 400)
    assert await blob_status(gc_registry, "lib/app", own_a) == 404
    assert not gc_registry.blob_file(own_a.digest).exists()
    await pull_everything(gc_registry, "lib/app", second)


async def test_a_link_unused_in_one_repository_goes_while_the_blob_stays_for_another(gc_registry: GcRegistry):
    client = gc_registry.client
    pushed = await push_image(client, "lib/used", "v1")
    layer_digest = manifest_doc(pushed)["layers"][0]["digest"]
    mounted = await client.post(f"/v2/lib/idle/blobs/uploads/?mount={layer_digest}&from=lib/used")
    assert mounted.status == 201
    report = await gc_registry.collect()
    assert (report.links_removed, report.blobs_deleted) == (1, 0)
    assert (await client.head(f"/v2/lib/idle/blobs/{layer_digest}")).status == 404
    await pull_everything(gc_registry, "lib/used", pushed)


async def test_a_dry_run_reports_what_a_run_frees_and_changes_nothing(gc_registry: GcRegistry):
    client = gc_registry.client
    pushed = await push_image(client, "lib/app", "v1")
    await push_image(client, "lib/app")  # untagged
    await push_blob(client, "lib/app", random_blob(700))
    assert (await client.delete(f"/v2/lib/app/manifests/{pushed.digest}")).status == 202
    files = sorted(p for p in gc_registry.settings.data_dir.rglob("*") if p.is_file() and "blobs" in p.parts)

    dry = await gc_registry.collect(dry_run=True, delete_untagged=True)
    # Both images have the same config: it, two layers and the loose blob.
    assert dry.dry_run and dry.blobs_deleted == 4 and dry.manifests_deleted == 1
    assert sorted(p for p in gc_registry.settings.data_dir.rglob("*") if p.is_file() and "blobs" in p.parts) == files
    assert await gc_registry.scalar(select(func.count()).select_from(Blob)) == 4

    real = await gc_registry.collect(delete_untagged=True)
    assert (real.blobs_deleted, real.bytes_freed, real.manifests_deleted, real.links_removed) == \
        (dry.blobs_deleted, dry.bytes_freed, dry.manifests_deleted, dry.links_removed)
    assert await gc_registry.scalar(select(func.count()).select_from(Blob)) == 0


async def test_delete_untagged_keeps_what_an_index_or_a_kept_manifest_needs(gc_registry: GcRegistry):
    client = gc_registry.client
    amd, arm = await push_image(client, "lib/multi"), await push_image(client, "lib/multi")
    listing = index([amd, arm], platforms=[("linux", "amd64"), ("linux", "arm64")])
    await push_manifest(client, "lib/multi", "latest", listing)
    loose = await push_image(client, "lib/multi")  # untagged, nothing needs it
    signature = await push_image(client, "lib/multi", subject=listing.descriptor())  # a referrer of a kept one
    orphan_ref = await push_image(client, "lib/multi", subject=loose.descriptor())  # referrer of garbage

    assert (await gc_registry.collect(grace=timedelta(hours=1), delete_untagged=True)).manifests_deleted == 0
    report = await gc_registry.collect(delete_untagged=True)
    assert report.manifests_deleted == 2  # `loose`, then its referrer in the next pass
    for kept in (listing, amd, arm, signature):
        await pull_everything(gc_registry, "lib/multi", kept)
    for gone in (loose, orphan_ref):
        assert (await client.get(f"/v2/lib/multi/manifests/{gone.digest}")).status == 404

    assert (await client.delete("/v2/lib/multi/manifests/latest")).status == 202  # untag the index
    report = await gc_registry.collect(delete_untagged=True)
    assert report.manifests_deleted == 4  # the index and its referrer, then both children
    assert await gc_registry.scalar(select(func.count()).select_from(Manifest)) == 0
    assert await gc_registry.scalar(select(func.count()).select_from(Blob)) == 0


async def test_a_manifest_pushed_after_its_blob_was_collected_is_refused_until_it_is_uploaded_again(
        gc_registry: GcRegistry):
    client = gc_registry.client
    config, layer = Content(b'{"architecture":"amd64","os":"linux"}'), random_blob(600)
    for blob in (config, layer):
        await push_blob(client, "lib/late", blob)
    await gc_registry.collect()
    late = image(config, [layer])
    refused = await put_manifest(client, "lib/late", "v1", late)
    assert refused.status == 400 and await error_codes(refused) == ["MANIFEST_BLOB_UNKNOWN"]
    for blob in (config, layer):
        await push_blob(client, "lib/late", blob)
    await push_manifest(client, "lib/late", "v1", late)
    await pull_everything(gc_registry, "lib/late", late)


async def test_a_blob_an_open_upload_may_become_is_left_for_the_next_run(gc_registry: GcRegistry):
    """An upload of the same size might commit these very bytes: the store would keep the old copy."""
    client = gc_registry.client
    blob = random_blob(4096)
    await push_blob(client, "lib/app", blob)
    location = await start_upload(client, "lib/app")
    patched = await client.patch(location, data=blob.data, headers={"Content-Range": f"0-{len(blob.data) - 1}"})
    assert patched.status == 202

    report = await gc_registry.collect()
    assert (report.links_removed, report.blobs_deleted, report.blobs_skipped) == (1, 0, 1)
    assert gc_registry.blob_file(blob.digest).exists()
    closed = await client.put(location + f"&digest={blob.digest}" if "?" in location else
                              location + f"?digest={blob.digest}")
    assert closed.status == 201
    assert (await client.get(f"/v2/lib/app/blobs/{blob.digest}")).status == 200
    assert gc_registry.blob_file(blob.digest).read_bytes() == blob.data


async def test_a_blob_left_without_links_by_a_crash_is_invisible_and_collected(gc_registry: GcRegistry):
    """Links go in one transaction and bytes in a later one: what a crash in between leaves."""
    blob = random_blob(800)
    await push_blob(gc_registry.client, "lib/app", blob)
    await gc_registry.sql(delete(RepositoryBlob))
    assert await blob_status(gc_registry, "lib/app", blob) == 404
    report = await gc_registry.collect(grace=timedelta(hours=1))  # no link: the grace period has nothing to spare
    assert (report.blobs_deleted, report.bytes_freed) == (1, 800)
    assert not gc_registry.blob_file(blob.digest).exists()


async def test_an_upload_or_mount_renews_the_grace_period(gc_registry: GcRegistry):
    client = gc_registry.client
    blob = random_blob(900)
    await push_blob(client, "lib/app", blob)
    await gc_registry.sql(update(RepositoryBlob).values(linked_at=RepositoryBlob.linked_at - timedelta(hours=2)))
    await push_blob(client, "lib/app", blob)  # pushed again: the link is as new as the push
    assert (await gc_registry.collect(grace=timedelta(hours=1))).links_removed == 0
    assert await blob_status(gc_registry, "lib/app", blob) == 200
