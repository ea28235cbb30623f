"""Blobs as a repository sees them: readable only through a link made by a push or a mount."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.database import insert_ignoring_conflicts
from ..db.models import Blob, Manifest, Repository, RepositoryBlob
from ..oci.digest import Digest
from .repositories import ensure_repository, repository_id_of


@dataclass(frozen=True, slots=True)
class BlobInfo:
    size: int
    # Manifests are content-addressed too and can be fetched through the blob endpoint, as with
    # distribution; their bytes live in the database, not in the blob store.
    content: bytes | None = None


async def _linked_size(session: AsyncSession, repository: str, digest: Digest) -> int | None:
    return await session.scalar(
        select(Blob.size)
        .join(RepositoryBlob, RepositoryBlob.digest == Blob.digest)
        .join(Repository, Repository.id == RepositoryBlob.repository_id)
        .where(Repository.name == repository, Blob.digest == str(digest)))


async def find_blob(session: AsyncSession, repository: str, digest: Digest) -> BlobInfo | None:
    size = await _linked_size(session, repository, digest)
    if size is not None:
        return BlobInfo(size)
    content = await session.scalar(
        select(Manifest.content).join(Repository, Repository.id == Manifest.repository_id)
        .where(Repository.name == repository, Manifest.digest == str(digest)))
    return BlobInfo(len(content), content) if content is not None else None


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
    size = await _linked_size(session, source, digest)
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
    return result.rowcount > 0
