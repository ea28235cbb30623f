"""What a manifest costs to pull and where it runs, worked out once at push time for the Hub's tag list.

An image's size is its config and layers as stored (compressed); its platform comes from its config
(os/architecture/variant). An index lists its children's platforms and sums their sizes: what pulling
every platform costs.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Manifest
from ..oci import mediatypes as mt
from ..oci.manifest import Descriptor, Platform
from ..oci.manifest import Manifest as ParsedManifest
from ..storage import BlobStore

MAX_CONFIG = 1 << 20


def platform_name(platform: Platform | dict[str, Any]) -> str:
    if isinstance(platform, Platform):
        fields = [platform.os, platform.architecture, platform.variant]
    else:
        fields = [str(platform.get(k) or "") for k in ("os", "architecture", "variant")]
    return "/".join(f for f in fields if f)


async def footprint(session: AsyncSession, store: BlobStore, repository_id: int,
                    manifest: ParsedManifest) -> tuple[int | None, list[str]]:
    """(bytes to pull, platforms) of a manifest whose blobs and children the repository has."""
    if manifest.is_index:
        children = {str(d.digest): d for d in manifest.manifests}
        rows = (await session.execute(select(Manifest.digest, Manifest.total_size, Manifest.platforms).where(
            Manifest.repository_id == repository_id, Manifest.digest.in_(children)))).all()
        platforms: list[str] = []
        for digest, _size, known in rows:
            declared = children[digest].platform
            platforms += [platform_name(declared)] if declared else json.loads(known or "[]")
        sizes = [size for _digest, size, _known in rows if size is not None]
        return (sum(sizes) if sizes else None), sorted(set(p for p in platforms if p))
    assert manifest.config is not None
    size = manifest.config.size + sum(layer.size for layer in manifest.layers)
    platform = await _config_platform(store, manifest.config)
    return size, [platform] if platform else []


async def _config_platform(store: BlobStore, config: Descriptor) -> str | None:
    """The platform an image config names; None for artifacts (other config types) or odd configs."""
    if config.media_type not in (mt.OCI_CONFIG, mt.DOCKER_CONFIG) or config.size > MAX_CONFIG:
        return None
    # At most MAX_CONFIG bytes: less than a store ever keeps at a location of its own (an S3 part), so the
    # blob is under its digest.
    data = b"".join([chunk async for chunk in store.read_blob(config.digest, 0, config.size)])
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return platform_name(doc) if isinstance(doc, dict) and doc.get("os") else None
