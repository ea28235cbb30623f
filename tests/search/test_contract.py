"""The same repositories and accounts in SQLite and in PostgreSQL: every search answers the same names
in the same order with the same counts, for every caller, and that answer is the one oracle.py works
out from the rules. The data is generated (seeded) to be awkward: ties, official images, separators
of every kind, mixed case, non-ASCII text, very long words, and text that looks like query syntax."""

from __future__ import annotations

import random
from typing import Any

from registry.services.access import ANONYMOUS, READ, repository_level
from registry.services.credentials import principal_named

from . import oracle
from .conftest import Repo, SearchRegistry, create_accounts

SEED = 20261129
NAMESPACES = ["", "library", "alice", "bobby", "acme", "carol", "zed", "web"]
PIECES = ["web", "server", "api", "busybox", "box", "app", "my", "not", "db", "x", "web2", "a1b", "near"]
SEPARATORS = ["-", "_", ".", "__", "--", "-"]
WORDS = ["Web", "SERVER", "proxy", "café", "Café", "CAFÉ", "naïve", "日本語", "emoji🙂", "c++", "100%",
         "snake_case", "a" * 300, "b" * 255, "NEAR(web", "x*", "AND", "or", "NOT", "'quoted'", '"double"',
         "back\\slash", "Web-Server", "web.server", "v1.2.3", "ÉCOLE", "École", "straße", "İstanbul", "box",
         "the", "{name_words}:", "description:api", "--", "_", "%", "app", "busybox", "Ünïcode", "ǅ",
         "z" * 3000]  # longer than PostgreSQL takes in a tsvector
TERMS = ['"', "*", "NEAR(web", "-", ":", "%", "_", "'", "\\", "AND", "web OR", "a" * 255, "b" * 255,
         " web ", "WEB", "x", "x_", "web-server", "web.server", "web server", "library/", "library/web",
         "café", "CAFÉ", "Café", "日本語", "emoji🙂", "c++", "100%", "naïve", "straße", "İstanbul", "ǅ",
         "the box", "description:api", "{name_words}:", "v1", "1.2", "box*", "b", "bu", "ox", "a1", "1b",
         "web2", "web/", "/web", ".", "__", "--", "near", "not", "my app", "x-", "nothing-matches-this"]
CALLERS = ["anonymous", "alice", "bobby", "carol", "acme+builder", "admin"]


def generate(rng: random.Random) -> list[Repo]:
    repos = {name: Repo(name, short, full, rng.randint(0, 2), rng.randint(0, 2), private)
             for name, short, full, private in [("acme/granted", "granted api", "", True),
                                                 ("acme/robot-only", "robot web", "", True)]}
    while len(repos) < 160:
        namespace = rng.choice(NAMESPACES)
        pieces = rng.sample(PIECES, rng.randint(1, 3))
        component = pieces[0] + "".join(rng.choice(SEPARATORS) + piece for piece in pieces[1:])
        name = f"{namespace}/{component}" if namespace else component
        short = " ".join(rng.sample(WORDS, rng.randint(0, 4))).replace("\n", " ")[:100]
        full = "\n".join(" ".join(rng.sample(WORDS, rng.randint(0, 6))) for _ in range(rng.randint(0, 3)))
        repos.setdefault(name, Repo(name, short, full, rng.randint(0, 2), rng.randint(0, 2), rng.random() < 0.3))
    return list(repos.values())


def terms(rng: random.Random, repos: list[Repo]) -> list[str]:
    names = [repo.name for repo in repos]
    return [*TERMS, *PIECES, *rng.sample(names, 12), *(n[:rng.randint(1, len(n))] for n in rng.sample(names, 12)),
            *(" ".join(rng.sample(WORDS, 2)) for _ in range(8))]


async def readable_names(registry: SearchRegistry, repos: list[Repo]) -> dict[str, set[str]]:
    """For each caller, the repositories the per-repository access check lets it read."""
    async def check(session: Any) -> dict[str, set[str]]:
        found = {}
        for caller in CALLERS:
            principal = ANONYMOUS if caller == "anonymous" else await principal_named(session, caller)
            assert principal is not None, caller
            found[caller] = {repo.name for repo in repos
                             if await repository_level(session, principal, repo.name) >= READ}
        return found
    return await registry.write(check)


async def test_sqlite_and_postgresql_answer_alike_and_as_the_rules_say(open_registry: Any) -> None:
    rng = random.Random(SEED)
    repos = generate(rng)
    registries = [await open_registry(backend) for backend in ("sqlite", "postgresql")]
    callers = []
    for registry in registries:
        callers.append(await create_accounts(registry))
        await registry.load(repos)
    readable = await readable_names(registries[0], repos)
    assert readable["anonymous"] < readable["bobby"] < readable["admin"]  # the callers do differ
    assert "acme/granted" in readable["carol"] and "acme/robot-only" in readable["acme+builder"]

    mismatches, found_something = [], 0
    for term in terms(rng, repos):
        for caller in CALLERS:
            sqlite, postgresql = [await registry.everything(term, headers[caller])
                                  for registry, headers in zip(registries, callers, strict=True)]
            expected = oracle.search(repos, term, readable[caller])
            if not sqlite == postgresql == (len(expected), expected):
                mismatches.append((term, caller, sqlite, postgresql, expected))
            found_something += bool(expected)
    assert mismatches == []
    assert found_something > len(CALLERS) * 40  # most terms find something: the comparison is not empty


async def test_pages_of_any_size_add_up_to_the_whole_answer(open_registry: Any) -> None:
    repos = generate(random.Random(SEED))
    for backend in ("sqlite", "postgresql"):
        registry = await open_registry(backend)
        headers = (await create_accounts(registry))["bobby"]
        await registry.load(repos)
        for term in ("web", "box", "a", "api server", "b"):
            total, whole = await registry.everything(term, headers, n=100)
            assert total > 7, (backend, term)
            for size in (1, 7, 25):
                assert await registry.everything(term, headers, n=size) == (total, whole), (backend, term, size)
