"""Repository search, as Docker Hub's v1 search answers it: matching, ranking, visibility and paging.

A repository matches a term when its name contains the term, or when every word of the term is a word of
its name or of its descriptions (short and full). Matches rank by how well the name fits: the exact
name, then names starting with the term, then names holding it as a whole word (between separators),
then names holding it anywhere, then the rest (the words found only in full text); ties go to more
stars, then more pulls, then the name. An official image (`library/NAME`, or a single-component name)
also goes by its short name. Case does not matter for ASCII letters.

A word is a longest run of ASCII letters and digits and of non-ASCII characters, with ASCII letters
lowercased: names split on / . _ - into words ("acme/web-server": acme, web, server). Migration 0004
indexes exactly these words, on SQLite (FTS5) and on PostgreSQL (a generated tsvector column), so both
databases answer alike (tests/search holds them to it); the term is data everywhere, never query syntax
(FTS5 quoting, tsquery quoting, LIKE escaping, binds).

Only repositories the caller may read are counted and returned: the API passes the SQL condition of
services.access.readable_condition, and every query filters with it. The work stays in SQL: candidates
come from indexes (name substrings, words), counts are SQL counts, a page of the most popular of many
full-text matches is found by walking a popularity index, and at most one page of rows reaches Python.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, FromClause, case, cast, column, func, literal, literal_column, or_, select, table
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession

from ..db.models import Repository
from .access import OFFICIAL_NAMESPACE, namespace_of

MAX_TERM = 255  # the longest repository name
EXACT, PREFIX, WORD, SUBSTRING = range(4)  # how well a name fits; full-text matches come after
_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)  # ASCII only, as the index folds
_WORD = re.compile("[0-9a-z\x80-\U0010ffff]+")
_SEPARATORS = "/._-"  # what separates the words of a name (the distribution spec's name grammar)
WALK_FROM, WALK_SHARE = 1000, 20  # see search_repositories
_TRIGRAM = re.compile(r"[^\W_]{3}")  # what pg_trgm can look up: 3 letters or digits in a row


@dataclass(frozen=True, slots=True)
class SearchHit:
    name: str
    description: str = ""  # the short description
    star_count: int = 0
    pull_count: int = 0
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


def words(text: str) -> list[str]:
    """The words of `text` as the search index splits and folds them (FTS5's `ascii` tokenizer)."""
    return _WORD.findall(text.translate(_FOLD))


class _Index(Protocol):
    """How one database finds candidates with the index of migration 0004."""

    async def prepare(self, session: AsyncSession) -> None:
        """Set up the session's transaction for the queries below."""

    def name_contains(self, text: str) -> ColumnElement[bool]:
        """Repository rows whose name contains `text`."""

    def with_words(self, wanted: list[str], walk: bool) -> tuple[FromClause, ColumnElement[bool]]:
        """(what to select from, condition) for the rows holding every word of `wanted` (not empty).
        `walk`: the query wants the most popular few of many matches (see search_repositories)."""


class _SqliteIndex:
    _words = table("repository_search", column("rowid"))
    _names = table("repository_search_name", column("rowid"))

    async def prepare(self, session: AsyncSession) -> None:
        pass

    def name_contains(self, text: str) -> ColumnElement[bool]:
        if len(text) < 3:  # shorter than a trigram: every name is read, from the narrow index of names
            names = Repository.__table__.alias("named")
            return Repository.id.in_(select(names.c.id).where(names.c.name.contains(text, autoescape=True)))
        # A phrase of trigrams is a substring; inside FTS5 quotes only `"` is special.
        phrase = '"' + text.replace('"', '""') + '"'
        return Repository.id.in_(select(self._names.c.rowid)
                                 .where(literal_column("repository_search_name").op("MATCH")(phrase)))

    def with_words(self, wanted: list[str], walk: bool) -> tuple[FromClause, ColumnElement[bool]]:
        # Words hold no `"` (ASCII punctuation separates words), so quoting each one makes it plain text.
        match = literal_column("repository_search").op("MATCH")(" AND ".join(f'"{word}"' for word in wanted))
        if walk:
            # `id + 0` keeps the planner off the rowid: it walks ix_repository_search_popular in order
            # and stops at the end of the page, instead of reading every match to sort them.
            return Repository.__table__, (Repository.id + 0).in_(select(self._words.c.rowid).where(match))
        # Joined, not `id IN (...)`: matches stream in rowid order and no temporary set is built.
        return self._words.join(Repository, Repository.id == self._words.c.rowid), match


class _PostgresIndex:
    _lexemes = literal_column("repository.repository_search_words", TSVECTOR)  # migration 0004's column

    async def prepare(self, session: AsyncSession) -> None:
        # For this transaction only. Plans depend on the term (a 2-letter term cannot use trigrams, a
        # common word matches most rows): plan with its value, not a generic plan of the prepared
        # statement. The planner prices reading a stored tsvector like any column, but a README's is
        # TOASTed: for a word in most rows it would scan the table (150 ms at 100,000 rows) instead of
        # using the GIN index (20 ms). JIT compiling never pays for queries of a few milliseconds.
        await session.execute(select(func.set_config("plan_cache_mode", "force_custom_plan", True),
                                     func.set_config("enable_seqscan", "off", True),
                                     func.set_config("jit", "off", True)))

    def name_contains(self, text: str) -> ColumnElement[bool]:
        if _TRIGRAM.search(text):
            return Repository.name.contains(text, autoescape=True)  # pg_trgm's GIN index
        # pg_trgm indexes runs of 3 letters or digits: without one its index would be read whole
        # (60 ms at 100,000); strpos keeps the planner off it.
        return func.strpos(Repository.name, text) > 0

    def with_words(self, wanted: list[str], walk: bool) -> tuple[FromClause, ColumnElement[bool]]:
        # Lexemes are quoted, so the tsquery is taken as written (no parser, no dictionary). The planner
        # chooses between the GIN index and walking the popularity index by itself.
        query = " & ".join(f"'{word}'" for word in wanted)
        return Repository.__table__, self._lexemes.op("@@")(cast(literal(query), TSQUERY))


_INDEXES: dict[str, _Index] = {"sqlite": _SqliteIndex(), "postgresql": _PostgresIndex()}  # by dialect
_HIT_COLUMNS = (Repository.name, Repository.short_description, Repository.star_count, Repository.pull_count)
_POPULAR = (Repository.star_count.desc(), Repository.pull_count.desc(), Repository.name)


def _name_words(name: Any) -> Any:
    """` acme web server ` for acme/web-server: a word of the term then shows as `% web %`."""
    for separator in _SEPARATORS:
        name = func.replace(name, separator, " ")
    return literal(" ") + name + literal(" ")


def _name_rank(text: str) -> Any:
    """EXACT..SUBSTRING for rows whose name contains `text`."""
    official = f"{OFFICIAL_NAMESPACE}/{text}"
    as_words = "".join(" " if c in _SEPARATORS else c for c in text)
    return case(
        (or_(Repository.name == text, Repository.name == official), EXACT),
        (or_(Repository.name.startswith(text, autoescape=True),
             Repository.name.startswith(official, autoescape=True)), PREFIX),
        (_name_words(Repository.name).contains(f" {as_words} ", autoescape=True), WORD),
        else_=SUBSTRING)


def _hit(row: Any) -> SearchHit:
    name, description, stars, pulls = row[:4]
    return SearchHit(name, description, stars, pulls, is_official(name))


async def search_repositories(session: AsyncSession, term: str, page: int, page_size: int,
                              readable: ColumnElement[bool]) -> SearchPage:
    """Page `page` (from 1) of `page_size` of the repositories matching `term` that `readable` holds for."""
    text = term.strip().translate(_FOLD)
    if not text:
        return SearchPage(term, page, page_size, 0, ())
    index = _INDEXES[session.get_bind().dialect.name]
    await index.prepare(session)
    in_name, wanted = index.name_contains(text), words(text)
    # Full-text matches come after every name match, so they leave out the names containing the term.
    text_only = (~Repository.name.contains(text, autoescape=True), readable)
    counts = [select(func.count()).select_from(Repository).where(in_name, readable).scalar_subquery()]
    if wanted:
        source, with_words = index.with_words(wanted, walk=False)
        counts.append(select(func.count()).select_from(source).where(with_words, *text_only).scalar_subquery())
    totals = (await session.execute(select(*counts))).one()
    named_total, text_total = totals[0], (totals[1] if wanted else 0)

    start, hits = (page - 1) * page_size, []
    if start < named_total:
        rows = await session.execute(select(*_HIT_COLUMNS).where(in_name, readable)
                                     .order_by(_name_rank(text), *_POPULAR).limit(page_size).offset(start))
        hits = [_hit(row) for row in rows]
    if len(hits) < page_size and start + page_size > named_total and text_total:
        # Walk down the popularity index when the page lies among the first few of many matches:
        # about (start + page_size) / text_total of the index is read, however many match.
        walk = text_total >= WALK_FROM and (start + page_size) * WALK_SHARE <= text_total
        source, with_words = index.with_words(wanted, walk)
        rows = await session.execute(select(*_HIT_COLUMNS).select_from(source).where(with_words, *text_only)
                                     .order_by(*_POPULAR).limit(page_size - len(hits))
                                     .offset(max(0, start - named_total)))
        hits += [_hit(row) for row in rows]
    return SearchPage(term, page, page_size, named_total + text_total, tuple(hits))
