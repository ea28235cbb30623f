"""Blobs as a repository sees them: readable only through a link made by a push or a mount."""

from __future__ import annotations

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.database import insert_ignoring_conflicts, rowcount
from ..db.models import Blob, Repository, RepositoryBlob
from ..oci.digest import Digest
from .repositories import ensure_repository, repository_id_of


def linked_blob_query(repository: str, digest: Digest) -> Select[int]:
    """The size of `digest` if `repository` may read it."""
    return (select(Blob.size)
            .join(RepositoryBlob, RepositoryBlob.digest == Blob.digest)
            .join(Repository, Repository.id == RepositoryBlob.repository_id)
            .where(Repository.name == repository, Blob.digest == str(digest)))


async def link_blob(session: AsyncSession, repository: str, digest: Digest, size: int) -> None:
    """Record that the store holds `digest` and that `repository` may read it."""
    await session.execute(insert_ignoring_conflicts(
        session, Blob, [{"digest": str(digest), "size": size}], ["digest"]))
    repository_id = await ensure_repository(session, repository)
    await session.execute(insert_ignoring_conflicts(
        session, RepositoryBlob, [{"repository_id": repository_id, "digest": str(digest)}],
        ["repository_id", "digest"]))


async def mount_blob(session: AsyncSession, repository: str, source: str, digest: Digest) -> bool:
    """Link a blob `source` can read into `repository`. False when `source` cannot read it."""
    size = await session.scalar(linked_blob_query(source, digest))
    if size is None:
        return False
    await link_blob(session, repository, digest, size)
    return True


async def unlink_blob(session: AsyncSession, repository: str, digest: Digest) -> bool:
    """Remove a repository's link to a blob (the bytes stay until garbage collection)."""
    repository_id = await repository_id_of(session, repository)
    if repository_id is None:
        return False
    result = await session.execute(delete(RepositoryBlob).where(
        RepositoryBlob.repository_id == repository_id, RepositoryBlob.digest == str(digest)))
    return rowcount(result) > 0
