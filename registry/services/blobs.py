"""Blobs as a repository sees them: readable only through a link made by a push or a mount.

Making a link and the garbage collector's removal of one (services/gc_sweep.py) lock the same rows, so
that on PostgreSQL as on SQLite (where writers take turns) a link is never made to a blob whose bytes
the collector is deleting: link_blob takes the blob row (an upsert, which waits for a collector holding
it); mount_blob and a manifest push take the links they rely on FOR SHARE, and read them again after.
"""

from __future__ import annotations

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.database import rowcount, upsert
from ..db.models import Blob, Repository, RepositoryBlob, utcnow
from ..oci.digest import Digest
from .quotas import require_room
from .repositories import ensure_repository, repository_id_of


def linked_blob_query(repository: str, digest: Digest) -> Select[int, str]:
    """The size and location of `digest` if `repository` may read it."""
    return (select(Blob.size, Blob.location)
            .join(RepositoryBlob, RepositoryBlob.digest == Blob.digest)
            .join(Repository, Repository.id == RepositoryBlob.repository_id)
            .where(Repository.name == repository, Blob.digest == str(digest)))


async def link_blob(session: AsyncSession, repository: str, digest: Digest, size: int, location: str = "") -> str:
    """Record that the store holds `digest` (at `location`) and that `repository` may read it; renew the
    link's time. Returns the location the blob's row names: an existing row keeps its own, and then the
    caller's copy at another location is redundant.

    Raises errors.Denied when the link would take the repository's namespace over its quota. The caller
    must have the bytes in the store already (uploads commit them first).
    """
    repository_id = await ensure_repository(session, repository)
    await require_room(session, repository, digest, size)
    # DO UPDATE, not DO NOTHING: it locks an existing row, so this waits for a collector deleting it
    # and then inserts the row again (a DO NOTHING would see the doomed row and skip).
    kept = await session.scalar(upsert(session, Blob, {"digest": str(digest), "size": size, "location": location},
                                       keys=["digest"], update=["size"]).returning(Blob.location))
    now = utcnow()
    await session.execute(upsert(
        session, RepositoryBlob, {"repository_id": repository_id, "digest": str(digest), "created_at": now,
                                  "linked_at": now},
        keys=["repository_id", "digest"], update=["linked_at"]))
    return str(kept)


async def mount_blob(session: AsyncSession, repository: str, source: str, digest: Digest) -> bool:
    """Link a blob `source` can read into `repository`. False when `source` cannot read it."""
    # The blob's row first, as link_blob takes it: every transaction that links a blob then locks the
    # blob before any link of it, so a mount and an upload of one blob cannot deadlock (seen on PostgreSQL).
    if await session.scalar(select(Blob.size).where(Blob.digest == str(digest)).with_for_update()) is None:
        return False
    found = (await session.execute(linked_blob_query(source, digest)
                                   .with_for_update(read=True, of=RepositoryBlob))).first()
    if found is None:
        return False
    await link_blob(session, repository, digest, found.size)
    return True


async def unlink_blob(session: AsyncSession, repository: str, digest: Digest) -> bool:
    """Remove a repository's link to a blob (the bytes stay until garbage collection)."""
    repository_id = await repository_id_of(session, repository)
    if repository_id is None:
        return False
    result = await session.execute(delete(RepositoryBlob).where(
        RepositoryBlob.repository_id == repository_id, RepositoryBlob.digest == str(digest)))
    return rowcount(result) > 0
