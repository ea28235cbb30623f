"""What the local store, the containers, the volumes and the build cache take on disk, as `docker system df`
counts it (moby's daemon/disk_usage.go, docker/cli's formatter/disk_usage.go): per kind a total, how many are
in use (active) and what removing the unused ones would free (reclaimable).

Images share blobs, so their total counts each blob once; what an active image (one a container was made from)
holds is not reclaimable. A container's size is what it wrote (its overlay upper directory, docker's SizeRw).
A build cache entry names layers in the image store: what it takes is its record plus the layers no image
holds (blobs only the cache reaches until the store collects them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from registry.oci.digest import Digest
from runtime.build.cache import BuildCache, CacheEntry
from runtime.containers import Container
from runtime.image_store import ImageStore
from runtime.volumes import Volume, VolumeStore, disk_usage, volume_names

from .local_images import LocalImage, load_images


@dataclass(frozen=True)
class Usage:
    """One line of `docker system df`: a kind of thing, how many, how many in use, bytes, bytes freeable."""

    kind: str
    total: int = 0
    active: int = 0
    size: int = 0
    reclaimable: int = 0
    items: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class ImageUsage:
    image: LocalImage
    size: int
    shared: int  # bytes of blobs another image holds too
    containers: int  # how many containers (in any state) were made from it


@dataclass(frozen=True)
class ContainerUsage:
    container: Container
    size: int
    volumes: int


@dataclass(frozen=True)
class VolumeUsage:
    volume: Volume
    size: int
    links: int  # containers (in any state) that mount it


def _blobs(image: LocalImage) -> dict[Digest, int]:
    described = [image.manifest["config"], *image.layers]
    return {Digest.parse(d["digest"]): int(d.get("size", 0)) for d in described}


def image_usage(images: list[LocalImage], containers: list[Container]) -> Usage:
    """One row per image id (its first name, a tagged one if any), as docker lists image summaries."""
    by_id: dict[str, LocalImage] = {}
    for image in sorted(images, key=lambda i: i.dangling):
        by_id.setdefault(image.id, image)
    users = [str(c.doc.get("Image")) for c in containers]
    blobs = {image_id: _blobs(image) for image_id, image in by_id.items()}
    holders: dict[Digest, int] = {}
    for held in blobs.values():
        for digest in held:
            holders[digest] = holders.get(digest, 0) + 1
    sizes = {d: s for held in blobs.values() for d, s in held.items()}
    rows = [ImageUsage(image, image.size, sum(s for d, s in blobs[i].items() if holders[d] > 1), users.count(i))
            for i, image in by_id.items()]
    in_use = {d for row in rows if row.containers for d in blobs[row.image.id]}
    total = sum(sizes.values())
    return Usage("Images", len(rows), sum(1 for r in rows if r.containers), total,
                 total - sum(sizes[d] for d in in_use), rows)


def container_usage(containers: list[Container]) -> Usage:
    rows = [ContainerUsage(c, disk_usage(Path(c.dir, "upper")), len(volume_names(c.doc))) for c in containers]
    active = [r for r in rows if r.container.status in ("running", "paused")]
    total = sum(r.size for r in rows)
    return Usage("Containers", len(rows), len(active), total, total - sum(r.size for r in active), rows)


def volume_usage(volumes: VolumeStore, containers: list[Container]) -> Usage:
    mounted = [name for c in containers for name in volume_names(c.doc)]
    rows = [VolumeUsage(v, disk_usage(v.mountpoint), mounted.count(v.name)) for v in volumes.list()]
    return Usage("Local Volumes", len(rows), sum(1 for r in rows if r.links), sum(r.size for r in rows),
                 sum(r.size for r in rows if not r.links), rows)


def cache_usage(entries: list[CacheEntry]) -> Usage:
    """No build runs while df does: none is active, all of it reclaimable (docker prints no percentage)."""
    total = sum(e.size for e in entries)
    return Usage("Build Cache", len(entries), 0, total, total, entries)


def prune_cache(cache: BuildCache, everything: bool) -> tuple[list[str], int]:
    """Delete the entries that can never be used again (a layer is gone from the store: docker's unused
    cache), or all of them; their ids and the bytes freed."""
    removed, freed = [], 0
    for entry in cache.entries():
        if (everything or not cache.usable(entry)) and cache.remove(entry):
            removed.append(entry.key)
            freed += entry.size
    return removed, freed


def all_usage(store: ImageStore, home: str, volumes: VolumeStore,
              containers: list[Container]) -> tuple[Usage, Usage, Usage, Usage]:
    """The four rows of `docker system df`, in its order."""
    return (image_usage(load_images(store), containers), container_usage(containers),
            volume_usage(volumes, containers), cache_usage(BuildCache.beside(home, store).entries()))
