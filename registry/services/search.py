"""Repository search, as Docker Hub's v1 search answers it: matching, ranking, visibility and paging.

For now a repository matches when its name contains the term (case-insensitively), and matches rank by
how well the name fits: the exact name, then names starting with the term, then names holding it as a
word, then the rest; ties in name order. Descriptions and stars are not stored yet: every hit carries ""
and 0, so a later ranking over full-text matches and stars changes `_candidates` and `rank` only.

Only repositories the caller may read are counted and returned: `readable` decides (the access rules
live in services.access; the API layer passes them in with its cache).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select

from ..db.models import Repository
from ..db.readpath import Reader
from .access import OFFICIAL_NAMESPACE, namespace_of

MAX_TERM = 255  # the longest repository name
EXACT, PREFIX, WORD, SUBSTRING = range(4)


@dataclass(frozen=True, slots=True)
class SearchHit:
    name: str
    description: str = ""
    star_count: int = 0
    is_official: bool = False


@dataclass(frozen=True, slots=True)
class SearchPage:
    query: str  # as the caller wrote it
    page: int
    page_size: int
    total: int  # every readable match, not only this page's
    hits: tuple[SearchHit, ...]

    @property
    def pages(self) -> int:
        return -(-self.total // self.page_size)


def is_official(name: str) -> bool:
    """Official images: `library/NAME`, and single-component names (which live in `library`)."""
    return namespace_of(name) == OFFICIAL_NAMESPACE


def rank(name: str, term: str) -> int:
    """How well `name` fits `term` (lowercase, contained in it): EXACT best, SUBSTRING worst.
    An official image also goes by its short name (`busybox` for `library/busybox`)."""
    short = name.removeprefix(OFFICIAL_NAMESPACE + "/")
    if term in (name, short):
        return EXACT
    if name.startswith(term) or short.startswith(term):
        return PREFIX
    if re.search(rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])", name):
        return WORD
    return SUBSTRING


async def _candidates(session: Reader, term: str) -> list[str]:
    """Every repository name containing `term` (names are lowercase: the distribution spec's grammar)."""
    rows = await session.execute(select(Repository.name).where(Repository.name.contains(term, autoescape=True)))
    return [name for (name,) in rows]


async def search_repositories(session: Reader, term: str, page: int, page_size: int,
                              readable: Callable[[str], Awaitable[bool]]) -> SearchPage:
    """Page `page` (from 1) of `page_size` of the repositories matching `term` that `readable` lets through."""
    wanted = term.lower()
    names = [name for name in await _candidates(session, wanted) if await readable(name)]
    names.sort(key=lambda name: (rank(name, wanted), name))
    start = (page - 1) * page_size
    hits = tuple(SearchHit(name, is_official=is_official(name)) for name in names[start:start + page_size])
    return SearchPage(term, page, page_size, len(names), hits)
