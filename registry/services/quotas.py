"""Storage quotas per namespace: the bytes of the distinct blobs its repositories link.

A blob linked by several repositories of one namespace counts once; one shared with another namespace
counts in both. Usage counts links, so deleting an image frees its share once the garbage collector has
removed the links nothing references any more. Manifests (kept in the database) do not count.
The quota is checked when a link is made (an upload's end or a mount, blobs.link_blob): a namespace's
links are made one at a time while it has a quota (its quota row is locked), so concurrent pushes
cannot overshoot it together.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, delete, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import errors
from ..db.database import upsert
from ..db.models import Blob, NamespaceQuota, Repository, RepositoryBlob, utcnow
from ..db.readpath import Reader
from ..oci.digest import Digest
from .access import OFFICIAL_NAMESPACE, namespace_of

MAX_QUOTA = 2**62


@dataclass(frozen=True, slots=True)
class Usage:
    namespace: str
    used_bytes: int
    blobs: int
    quota_bytes: int | None

    def json(self) -> dict[str, object]:
        return {"namespace": self.namespace, "used_bytes": self.used_bytes, "blobs": self.blobs,
                "quota_bytes": self.quota_bytes}


def in_namespace(namespace: str) -> ColumnElement[bool]:
    """Repositories of `namespace`: names under "namespace/" (a range of the name index), and for the
    official namespace the single-component names too."""
    under = and_(Repository.name >= namespace + "/", Repository.name < namespace + "0")  # "0" follows "/"
    return or_(under, not_(Repository.name.contains("/"))) if namespace == OFFICIAL_NAMESPACE else under


def _linked_digests(namespace: str) -> Select[str]:
    return (select(RepositoryBlob.digest).join(Repository, Repository.id == RepositoryBlob.repository_id)
            .where(in_namespace(namespace)))


async def usage(session: Reader, namespace: str) -> Usage:
    count, used = (await session.execute(select(func.count(), func.coalesce(func.sum(Blob.size), 0)).where(
        Blob.digest.in_(_linked_digests(namespace))))).one()
    quota = await session.scalar(select(NamespaceQuota.bytes).where(NamespaceQuota.namespace == namespace))
    return Usage(namespace, int(used), int(count), quota)


async def set_quota(session: AsyncSession, namespace: str, limit: int | None) -> None:
    """Set (or with None remove) a namespace's quota. Links made before stay, even over a lower quota."""
    if limit is None:
        await session.execute(delete(NamespaceQuota).where(NamespaceQuota.namespace == namespace))
        return
    if not 0 <= limit <= MAX_QUOTA:
        raise ValueError(f"a quota is between 0 and {MAX_QUOTA} bytes")
    await session.execute(upsert(session, NamespaceQuota, {"namespace": namespace, "bytes": limit,
                                                           "updated_at": utcnow()},
                                 keys=["namespace"], update=["bytes", "updated_at"]))


async def require_room(session: AsyncSession, repository: str, digest: Digest, size: int,
                       lock: bool = True) -> None:
    """Pass when linking `digest` into `repository` keeps its namespace within its quota (or it has none);
    else raise errors.Denied. Call in the transaction that makes the link. `lock=False` is an early look
    from a read (an upload refused before its bytes are stored); the link's own check still decides."""
    namespace = namespace_of(repository)
    query = select(NamespaceQuota.bytes).where(NamespaceQuota.namespace == namespace)
    limit = await session.scalar(query.with_for_update() if lock else query)
    if limit is None:
        return
    linked = await session.scalar(_linked_digests(namespace).where(RepositoryBlob.digest == str(digest)).limit(1))
    if linked is not None:
        return  # already counted
    used = (await usage(session, namespace)).used_bytes
    if used + size > limit:
        raise errors.Denied(f"namespace {namespace!r} is over its storage quota: this blob needs {size} bytes, "
                            f"{max(limit - used, 0)} of {limit} are left",
                            detail={"namespace": namespace, "quota_bytes": limit, "used_bytes": used,
                                    "blob_bytes": size})
