"""search index: full-text words of names and descriptions, and name substrings

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

What services.search matches, indexed so a search reads only the rows it finds:
- the words of a repository (its name split on / . _ -, its short and full descriptions): on SQLite a
  contentless FTS5 table kept in step by triggers, on PostgreSQL a generated tsvector column with a GIN
  index;
- substrings of names: on SQLite an FTS5 trigram table (same triggers), on PostgreSQL pg_trgm;
- popularity (stars, then pulls, then name): an index a search walks to find the most popular of a
  term found in thousands of repositories without sorting (or even reading) all of them.

Both databases must find the same words, so neither uses its own idea of a word. A word is a longest run
of ASCII letters and digits and of non-ASCII characters; ASCII letters are lowercased, nothing else is
folded. That is FTS5's `ascii` tokenizer exactly, and on PostgreSQL `repository_search_lexemes` builds the
tsvector from that split with array_to_tsvector (no parser, dictionary or locale: to_tsvector's parser
would keep "web-server" and "a.b.com" whole and lowercase by the database's locale). PostgreSQL refuses
lexemes over 2 KB, so runs of more than 255 characters (longer than any search term) are left out.

No model describes these objects: migrations/env.py keeps autogenerate off names starting with
`repository_search` / `ix_repository_search` (the generated column included). On SQLite, a later batch
migration of `repository` (copy, drop, rename) drops these triggers with the old table: such a
migration must create them again (tests/search/test_index.py fails when they are missing at head).
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POPULAR = "CREATE INDEX ix_repository_search_popular ON repository (star_count DESC, pull_count DESC, name)"
_DESCRIPTION = "{row}.short_description || ' ' || {row}.full_description"
_INDEX_ROW = ("INSERT INTO repository_search (rowid, name_words, description) "
              f"VALUES ({{row}}.id, {{row}}.name, {_DESCRIPTION});\n"
              "INSERT INTO repository_search_name (rowid, name) VALUES ({row}.id, {row}.name);")
# A contentless FTS5 table forgets a row only when given the very values it indexed.
_FORGET_ROW = ("INSERT INTO repository_search (repository_search, rowid, name_words, description) "
               f"VALUES ('delete', {{row}}.id, {{row}}.name, {_DESCRIPTION});\n"
               "INSERT INTO repository_search_name (repository_search_name, rowid, name) "
               "VALUES ('delete', {row}.id, {row}.name);")

SQLITE_UPGRADE = [
    # The tokenizer splits names into their words: "acme/web-server" is indexed as acme, web, server.
    "CREATE VIRTUAL TABLE repository_search USING fts5(name_words, description, content='', "
    "tokenize='ascii')",
    "CREATE VIRTUAL TABLE repository_search_name USING fts5(name, content='', "
    "tokenize='trigram case_sensitive 1')",
    f"CREATE TRIGGER repository_search_insert AFTER INSERT ON repository BEGIN\n"
    f"{_INDEX_ROW.format(row='new')}\nEND",
    f"CREATE TRIGGER repository_search_delete AFTER DELETE ON repository BEGIN\n"
    f"{_FORGET_ROW.format(row='old')}\nEND",
    # Only these columns: pull counts and stars change all the time and are not indexed.
    f"CREATE TRIGGER repository_search_update AFTER UPDATE OF name, short_description, full_description "
    f"ON repository BEGIN\n{_FORGET_ROW.format(row='old')}\n{_INDEX_ROW.format(row='new')}\nEND",
    "INSERT INTO repository_search (rowid, name_words, description) "
    f"SELECT id, name, {_DESCRIPTION.format(row='repository')} FROM repository",
    "INSERT INTO repository_search_name (rowid, name) SELECT id, name FROM repository",
    POPULAR,
]
SQLITE_DOWNGRADE = [
    "DROP INDEX ix_repository_search_popular",
    "DROP TRIGGER repository_search_update", "DROP TRIGGER repository_search_delete",
    "DROP TRIGGER repository_search_insert", "DROP TABLE repository_search_name",
    "DROP TABLE repository_search",
]

_UPPER, _LOWER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"
POSTGRESQL_UPGRADE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # translate, not lower(): lower() folds by the database's locale; FTS5 folds ASCII only.
    r"""CREATE FUNCTION repository_search_lexemes(name text, short_description text, full_description text)
    RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_tsvector(array_remove(string_to_array(regexp_replace(regexp_replace(
        translate(name || ' ' || short_description || ' ' || full_description, """
    f"'{_UPPER}', '{_LOWER}'),"
    r"""
        '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', ' ', 'g'),
        '[^ ]{255}[^ ]+', ' ', 'g'), ' '), ''))
    $$""",
    # Stored, not an expression index: working the words out of a README takes 0.2 ms, and a plan that
    # tests rows one by one (walking the popularity index) must not pay that for each.
    "ALTER TABLE repository ADD COLUMN repository_search_words tsvector GENERATED ALWAYS AS "
    "(repository_search_lexemes(name, short_description, full_description)) STORED",
    "CREATE INDEX ix_repository_search_words ON repository USING gin (repository_search_words)",
    "CREATE INDEX ix_repository_search_name ON repository USING gin (name gin_trgm_ops)",
    POPULAR,
]
# pg_trgm stays: other objects may use it, and dropping an extension needs more rights than creating it.
POSTGRESQL_DOWNGRADE = [
    "DROP INDEX ix_repository_search_popular", "DROP INDEX ix_repository_search_name",
    "DROP INDEX ix_repository_search_words", "ALTER TABLE repository DROP COLUMN repository_search_words",
    "DROP FUNCTION repository_search_lexemes(text, text, text)",
]


def _run(statements: dict[str, list[str]]) -> None:
    for statement in statements.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def upgrade() -> None:
    _run({"sqlite": SQLITE_UPGRADE, "postgresql": POSTGRESQL_UPGRADE})


def downgrade() -> None:
    _run({"sqlite": SQLITE_DOWNGRADE, "postgresql": POSTGRESQL_DOWNGRADE})
