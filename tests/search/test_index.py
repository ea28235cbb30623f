"""Migration 0004's search index: it indexes what was there before it, goes away and comes back, stays in
step on SQLite through its triggers, leaves autogenerate with nothing to do on PostgreSQL too, and the
queries of a search read it instead of the whole table."""

from __future__ import annotations

import asyncio
import random
import re
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, insert, text, true

from registry import keys
from registry.db import Database
from registry.db.migrate import alembic_config, migrate
from registry.db.models import Repository
from registry.services.search import WALK_FROM, search_repositories

from . import oracle
from .conftest import Repo, SearchRegistry

OLD = [Repo("acme/before", short="Indexed by the migration", full="from existing rows"),
       Repo("library/old", short="official")]


def _url(search_registry: SearchRegistry) -> str:
    return search_registry.client.app[keys.settings].database_url


async def _found(url: str, term: str) -> list[str]:
    database = Database(url)
    try:
        async with database.read() as session:
            return [hit.name for hit in (await search_repositories(session, term, 1, 100, true())).hits]
    finally:
        await database.close()


async def test_the_migration_indexes_existing_rows_and_goes_down_and_up_again(search_registry: SearchRegistry
                                                                              ) -> None:
    url, config = _url(search_registry), alembic_config(_url(search_registry))
    await asyncio.to_thread(command.downgrade, config, "0003")
    await search_registry.load(OLD)  # written while no index exists
    await asyncio.to_thread(migrate, url)
    assert await _found(url, "existing") == ["acme/before"]
    assert await _found(url, "old") == ["library/old"]
    await asyncio.to_thread(command.downgrade, config, "0003")
    await asyncio.to_thread(migrate, url)
    assert await _found(url, "migration") == ["acme/before"]


async def test_autogenerate_finds_nothing_to_change(search_registry: SearchRegistry) -> None:
    # tests/test_migrations.py checks SQLite through the alembic command; this one PostgreSQL too,
    # where the index adds a column and indexes no model declares.
    await asyncio.to_thread(command.check, alembic_config(_url(search_registry)))


SQLITE_OBJECTS = {("table", "repository_search"), ("table", "repository_search_name"),
                  ("trigger", "repository_search_insert"), ("trigger", "repository_search_update"),
                  ("trigger", "repository_search_delete"), ("index", "ix_repository_search_popular")}


async def test_sqlite_triggers_keep_the_full_text_tables_in_step(open_registry: Any) -> None:
    registry = await open_registry("sqlite")

    async def objects(session: Any) -> set[tuple[str, str]]:
        rows = await session.execute(text("SELECT type, name FROM sqlite_master"))
        return {(kind, name) for kind, name in rows}

    # A later migration that rebuilds `repository` (batch mode) drops the triggers: this fails then.
    assert await registry.write(objects) >= SQLITE_OBJECTS

    async def indexed(session: Any) -> tuple[int, int]:
        words = await session.scalar(text("SELECT count(*) FROM repository_search WHERE repository_search "
                                          "MATCH 'vanishing OR acme OR gone'"))
        names = await session.scalar(text("SELECT count(*) FROM repository_search_name WHERE "
                                          "repository_search_name MATCH '\"acme/gone\"'"))
        return words, names
    await registry.load([Repo("acme/gone", short="vanishing")])
    assert await registry.write(indexed) == (1, 1)
    await registry.delete("acme/gone")
    assert await registry.write(indexed) == (0, 0)  # forgotten, not just hidden by the join


# What a search may read in full: nothing but narrow indexes (names) and the search index itself...
SQLITE_FULL_SCAN = re.compile(r"\bSCAN (repository|named)\b(?! USING (COVERING )?INDEX)")
POSTGRESQL_FULL_SCAN = re.compile(r"Seq Scan on repository")
# ... except on PostgreSQL for a term without 3 letters or digits in a row, which no trigram finds:
# then it reads the table rather than all of the trigram index.
NO_TRIGRAM = ("bu", "x", "%_%")


async def plans_of_search(database: Database, term: str, page: int = 1) -> list[tuple[str, str]]:
    """(statement, plan) of each query of a search for `term` by someone who may read everything."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "set_config" not in statement:
            statements.append((statement, parameters))
    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with database.read() as session:
            await search_repositories(session, term, page, 25, true())
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with database.read() as session:
        connection = await session.connection()
        if not database.is_sqlite:  # the planner settings the search runs with
            await connection.exec_driver_sql("SELECT set_config('enable_seqscan', 'off', true)")
        explain = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
        for statement, parameters in statements:
            rows = await connection.exec_driver_sql(explain + statement, parameters)
            plans.append((f"{statement}\n{parameters}", "\n".join(str(row[-1]) for row in rows)))
    return plans


@pytest.mark.parametrize("term", ["busybox", "web server", "acme/web-server", "tool", *NO_TRIGRAM])
async def test_searches_use_the_indexes(search_registry: SearchRegistry, term: str) -> None:
    await search_registry.load([Repo(f"acme/{name}", short="web server", full="busybox tool")
                                for name in ("web-server", "busybox", "x", "other")])
    database: Database = search_registry.client.app[keys.database]
    plans = await plans_of_search(database, term)
    assert plans
    for statement, plan in plans:
        if database.is_sqlite:
            assert not SQLITE_FULL_SCAN.search(plan), f"{statement}\n{plan}"
        elif term in NO_TRIGRAM:  # its trigram index would be read whole
            assert "ix_repository_search_name" not in plan, f"{statement}\n{plan}"
        else:
            assert not POSTGRESQL_FULL_SCAN.search(plan), f"{statement}\n{plan}"


async def test_a_page_of_many_full_text_matches_walks_the_popularity_index(search_registry: SearchRegistry
                                                                           ) -> None:
    # Over WALK_FROM matches the most popular are found by walking ix_repository_search_popular: the
    # same answer as sorting them all, on every page.
    rng = random.Random(7)
    repos = [Repo(f"ns{i % 37}/repo{i}", short="common words", stars=rng.randint(0, 5), pulls=rng.randint(0, 3),
                  private=rng.random() < 0.25) for i in range(WALK_FROM + 300)]
    await search_registry.write(lambda session: session.execute(insert(Repository), [
        {"name": r.name, "short_description": r.short, "star_count": r.stars, "pull_count": r.pulls,
         "is_private": r.private} for r in repos]))
    expected = oracle.search(repos, "common", {r.name for r in repos if not r.private})
    for page in (1, 2, 40):
        body = await search_registry.search("common", n="25", page=str(page))
        assert body["num_results"] == len(expected)
        assert [hit["name"] for hit in body["results"]] == expected[(page - 1) * 25:page * 25], page
    if search_registry.backend == "sqlite":  # PostgreSQL's planner makes this choice by itself
        plans = await plans_of_search(search_registry.client.app[keys.database], "common")
        assert "SCAN repository USING INDEX ix_repository_search_popular" in plans[-1][1], plans[-1]
