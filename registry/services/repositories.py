"""Repositories: created on first push or mount, listed by the catalog."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.accounts import Namespace
from ..db.database import insert_ignoring_conflicts
from ..db.models import Repository
from .access import namespace_of


async def ensure_repository(session: AsyncSession, name: str) -> int:
    """The id of repository `name`, creating it if needed (safe against concurrent creators) with its
    namespace's default visibility."""
    repository_id = await repository_id_of(session, name)
    if repository_id is None:
        private = bool(await session.scalar(select(Namespace.default_private).where(
            Namespace.name == namespace_of(name))))
        await session.execute(insert_ignoring_conflicts(
            session, Repository, [{"name": name, "is_private": private}], ["name"]))
        repository_id = await repository_id_of(session, name)
    assert repository_id is not None
    return repository_id


async def repository_id_of(session: AsyncSession, name: str) -> int | None:
    return await session.scalar(select(Repository.id).where(Repository.name == name))


async def list_repositories(session: AsyncSession, limit: int, last: str | None) -> list[str]:
    """Repository names in lexical order after `last`, at most `limit`."""
    query = select(Repository.name).order_by(Repository.name).limit(limit)
    if last:
        query = query.where(Repository.name > last)
    return list(await session.scalars(query))
