"""The Hub's view of repositories: descriptions, stars, pull counts, tags with their sizes and platforms,
and the listings pages and the JSON API show. Access is the caller's business: listings take the SQL
condition services.access.readable_condition builds; single repositories are checked before these run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markdown_it import MarkdownIt
from sqlalchemy import ColumnElement, delete, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.base import as_utc
from ..db.database import insert_ignoring_conflicts, rowcount
from ..db.hub import Star
from ..db.models import Manifest, Repository, Tag
from ..db.readpath import Reader
from .access import OFFICIAL_NAMESPACE, namespace_of

SHORT_DESCRIPTION_MAX = 100
FULL_DESCRIPTION_MAX = 25_000
ORDERS: dict[str, tuple[Any, ...]] = {
    "pulls": (Repository.pull_count.desc(), Repository.name), "stars": (Repository.star_count.desc(), Repository.name),
    # nulls_last: SQLite and PostgreSQL put never-pushed repositories at opposite ends otherwise.
    "recent": (Repository.last_pushed_at.desc().nulls_last(), Repository.name), "name": (Repository.name,)}
# CommonMark with tables; raw HTML is escaped, and links to javascript:/data: are refused by markdown-it.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@dataclass(frozen=True, slots=True)
class RepositoryView:
    name: str
    short_description: str
    full_description: str
    is_private: bool
    star_count: int
    pull_count: int
    last_pushed_at: datetime | None

    @property
    def namespace(self) -> str:
        return namespace_of(self.name)

    @property
    def is_official(self) -> bool:
        return self.namespace == OFFICIAL_NAMESPACE

    @property
    def description_html(self) -> str:
        return render_markdown(self.full_description)


@dataclass(frozen=True, slots=True)
class TagView:
    name: str
    digest: str
    media_type: str
    size: int | None
    platforms: tuple[str, ...]
    pushed_at: datetime


def render_markdown(text: str) -> str:
    """Safe HTML for a full description: no script, no raw HTML, no javascript: links."""
    return _MARKDOWN.render(text)


_COLUMNS = (Repository.name, Repository.short_description, Repository.full_description, Repository.is_private,
            Repository.star_count, Repository.pull_count, Repository.last_pushed_at)


def _view(row: tuple) -> RepositoryView:  # type: ignore[type-arg]
    name, short, full, private, stars, pulls, pushed = row
    return RepositoryView(name, short, full, private, stars, pulls, as_utc(pushed) if pushed else None)


async def repository(session: Reader, name: str) -> RepositoryView | None:
    row = (await session.execute(select(*_COLUMNS).where(Repository.name == name))).first()
    return _view(tuple(row)) if row else None


async def listing(session: Reader, readable: ColumnElement[bool], *, namespace: str | None = None,
                  matching: str = "", order: str = "pulls", page: int = 1,
                  page_size: int = 25) -> tuple[int, list[RepositoryView]]:
    """(how many, one page of) the repositories the caller may read, of one namespace or all, whose names
    contain `matching`. The official namespace holds the single-component names too (`busybox`)."""
    where = [readable]
    if namespace is not None:
        inside = Repository.name.startswith(namespace + "/", autoescape=True)
        where.append(or_(inside, not_(Repository.name.contains("/"))) if namespace == OFFICIAL_NAMESPACE else inside)
    if matching:
        where.append(Repository.name.contains(matching, autoescape=True))
    total = await session.scalar(select(func.count()).select_from(Repository).where(*where)) or 0
    rows = await session.execute(select(*_COLUMNS).where(*where).order_by(*ORDERS[order])
                                 .limit(page_size).offset((page - 1) * page_size))
    return total, [_view(tuple(row)) for row in rows]


async def stored_name(session: Reader, namespace: str, name: str) -> str:
    """The repository the Hub's `namespace/name` means: Docker Hub shows single-component names in the
    official namespace (`library/busybox`), so `library/x` is `x` unless a `library/x` is stored."""
    full = f"{namespace}/{name}"
    if namespace != OFFICIAL_NAMESPACE or "/" in name:
        return full
    return full if await session.scalar(select(Repository.id).where(Repository.name == full)) else name


async def tags(session: Reader, name: str, *, page: int = 1, page_size: int | None = None) -> list[TagView]:
    """The repository's tags, newest push first, with what each costs to pull and where it runs: all of
    them, or one page of `page_size`."""
    query = (select(Tag.name, Manifest.digest, Manifest.media_type, Manifest.total_size, Manifest.platforms,
                    Tag.updated_at)
             .join(Manifest, Manifest.id == Tag.manifest_id).join(Repository, Repository.id == Tag.repository_id)
             .where(Repository.name == name).order_by(Tag.updated_at.desc(), Tag.name))
    if page_size is not None:
        query = query.limit(page_size).offset((page - 1) * page_size)
    return [TagView(tag, digest, media_type, size, tuple(json.loads(platforms or "[]")), as_utc(pushed))
            for tag, digest, media_type, size, platforms, pushed in await session.execute(query)]


async def tag_count(session: Reader, name: str) -> int:
    return await session.scalar(select(func.count()).select_from(Tag)
                                .join(Repository, Repository.id == Tag.repository_id)
                                .where(Repository.name == name)) or 0


async def set_descriptions(session: AsyncSession, name: str, short: str | None = None,
                           full: str | None = None) -> None:
    values: dict[str, str] = {}
    if short is not None:
        if len(short) > SHORT_DESCRIPTION_MAX or "\n" in short:
            raise ValueError(f"a short description is one line of at most {SHORT_DESCRIPTION_MAX} characters")
        values["short_description"] = short
    if full is not None:
        if len(full) > FULL_DESCRIPTION_MAX:
            raise ValueError(f"a full description has at most {FULL_DESCRIPTION_MAX} characters")
        values["full_description"] = full
    if values:
        await session.execute(update(Repository).where(Repository.name == name).values(**values))


async def set_star(session: AsyncSession, user_id: int, name: str, starred: bool) -> int:
    """Star or unstar (idempotent: one star per user); returns the repository's star count."""
    repository_id = await session.scalar(select(Repository.id).where(Repository.name == name))
    if repository_id is None:
        raise LookupError(name)
    if starred:
        result = await session.execute(insert_ignoring_conflicts(
            session, Star, [{"user_id": user_id, "repository_id": repository_id}], ["user_id", "repository_id"]))
    else:
        result = await session.execute(delete(Star).where(Star.user_id == user_id,
                                                          Star.repository_id == repository_id))
    if rowcount(result):
        await session.execute(update(Repository).where(Repository.id == repository_id).values(
            star_count=Repository.star_count + (1 if starred else -1)))
    return await session.scalar(select(Repository.star_count).where(Repository.id == repository_id)) or 0


async def is_starred(session: Reader, user_id: int, name: str) -> bool:
    return await session.scalar(select(Star.user_id).join(Repository, Repository.id == Star.repository_id)
                                .where(Star.user_id == user_id, Repository.name == name)) is not None
