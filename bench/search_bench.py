"""Benchmark GET /v1/search over 100,000 repositories: latency per kind of term, against a goal.

Generates repositories with Docker Hub-like names, descriptions (short ones, and READMEs from none to
~10 KB), stars, pulls and visibility straight into a migrated database (SQLite; with --postgres also a
private PostgreSQL cluster), then starts `berth-registry serve` on it, with --auth none and with
--auth token (an anonymous caller, and a user with private repositories and team memberships, by registry
token), and sends GET /v1/search?q=TERM&n=25 one at a time over one connection. Terms come from the data:
exact names, name prefixes, words of names, words found only in descriptions, and terms matching nothing.
Prints p50/p95/p99 per kind of term; exits 1 if a p95 reaches the goal (50 ms), unless --no-fail.

    .venv/bin/python bench/search_bench.py [--repositories N] [--requests N] [--postgres] [--no-fail]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from _harness import BERTH_BIN, BenchError, bearer_token, start_berth  # noqa: E402

GOAL_MS = 50.0


def _words(text: str) -> list[str]:
    return text.split()


USER, PASSWORD, ORG = "benchuser", "bench-user-password", "benchorg"
MODES = ("exact", "prefix", "word", "description", "none")
TECH = _words("nginx redis postgres mysql mariadb mongo python node golang java rust ruby php alpine ubuntu debian "
        "busybox kafka spark flink airflow jupyter grafana prometheus loki jaeger elastic traefik caddy envoy "
        "vault consul etcd minio rabbitmq nats memcached haproxy jenkins gitlab gitea drone sonar keycloak "
        "wordpress ghost nextcloud ollama pytorch tensorflow selenium chrome playwright terraform ansible")
PARTS = _words("web server api app proxy worker cache db data ml agent exporter operator controller gateway auth sso "
         "mail dns vpn backup sync monitor metrics search queue stream batch job cron scheduler runner build "
         "ci deploy helm kube base dev prod test demo frontend backend service core sdk bot chat media blog "
         "shop edge iot home cli tools lite slim full static dashboard admin portal bridge relay")
ENGLISH = _words("the a and to of for with in is on this image docker container run your that it as by be you can "
           "from an are use or based using build official version configuration support lightweight minimal "
           "secure fast simple production ready environment application deployment easy open source server "
           "setup default port volume tag latest release update documentation example")


def _syllables(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") for _ in range(count))


def generate(count: int, seed: int) -> Iterator[tuple[str, bool, str, str, int, int]]:
    """(name, private, short description, full description, stars, pulls) for `count` repositories.

    Like Docker Hub: a few namespaces hold many repositories, most hold a handful; names are made of
    technology words and made-up ones; descriptions talk about the repository's own words in common
    English with a long tail of rarer words; stars and pulls are heavy-tailed; a fifth is private."""
    rng = random.Random(seed)
    rare = sorted({_syllables(rng, rng.randint(2, 4)) for _ in range(6000)})  # the long tail of words
    vocabulary = ENGLISH + rare
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(vocabulary))]  # Zipf-like
    paragraphs = [" ".join(rng.choices(vocabulary, weights, k=rng.randint(20, 120))) + "." for _ in range(3000)]
    namespaces = sorted({_syllables(rng, rng.randint(2, 4))
                         + rng.choice(["", "", "labs", "io", str(rng.randint(1, 99))]) for _ in range(15000)})
    rng.shuffle(namespaces)
    popularity = [1 / (rank + 5) for rank in range(len(namespaces))]
    seen: set[str] = set()
    for official in TECH:
        seen.add(official)
        yield official, False, f"Official {official} image", "\n\n".join(rng.sample(paragraphs, 6)), \
            rng.randint(1000, 20000), rng.randint(10**8, 10**10)
    while len(seen) < count:
        namespace = USER if rng.random() < 0.0005 else ORG if rng.random() < 0.002 else \
            rng.choices(namespaces, popularity)[0]
        words = rng.sample(TECH + PARTS + rare[:500], rng.choice([1, 2, 2, 3]))
        name = f"{namespace}/{rng.choice(['-', '-', '_', '.']).join(words)}"
        if name in seen:
            continue
        seen.add(name)
        about = " ".join([*words, *rng.choices(TECH, k=rng.randint(0, 2))])
        short = "" if rng.random() < 0.4 else \
            f"{' '.join(rng.choices(vocabulary, weights, k=rng.randint(2, 8)))} {about}"[:100]
        size = rng.random()
        readme = "" if size < 0.5 else "\n\n".join(
            [f"# {name}", about, *rng.sample(paragraphs, rng.randint(1, 3) if size < 0.9 else rng.randint(8, 20))])
        yield (name, rng.random() < 0.2 or namespace in (USER, ORG), short, readme,
               int(rng.paretovariate(1.3)) - 1, int(rng.lognormvariate(4, 3)))


def load_sqlite(path: Path, rows: list[tuple[str, bool, str, str, int, int]]) -> None:
    with sqlite3.connect(path) as db:  # one transaction; the triggers of migration 0004 index each row
        db.executemany("INSERT INTO repository (name, is_private, created_at, short_description, full_description,"
                       " star_count, pull_count) VALUES (?, ?, datetime('now'), ?, ?, ?, ?)", rows)


async def _load_postgres(url: str, rows: list[tuple[str, bool, str, str, int, int]]) -> None:
    import asyncpg  # only for --postgres
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.executemany(
            "INSERT INTO repository (name, is_private, created_at, short_description, full_description, star_count,"
            " pull_count) VALUES ($1, $2, now(), $3, $4, $5, $6)", rows)
        await connection.execute("ANALYZE repository")
    finally:
        await connection.close()


def terms(rows: list[tuple[str, bool, str, str, int, int]], seed: int) -> dict[str, list[str]]:
    """Search terms of each kind, taken from the data so that each kind finds what it says."""
    rng = random.Random(seed + 1)
    public = [row[0] for row in rows if not row[1]]
    name_words = {w for name in public for w in name.replace("/", " ").replace("-", " ").replace("_", " ")
                  .replace(".", " ").split()}
    only_described = sorted({w for row in rows[:5000] for w in row[2].split()} - name_words)
    return {"exact": rng.sample(public, 15) + rng.sample(TECH, 5),
            "prefix": [rng.choice(public)[:rng.randint(4, 9)] for _ in range(15)]
            + [t[:3] for t in rng.sample(TECH, 5)],
            "word": rng.sample(PARTS, 12) + rng.sample(TECH, 8),
            "description": rng.sample(only_described, 14) + ["lightweight", "docker", "image container",
                                                               "production ready", "the", "official"],
            "none": [f"{_syllables(rng, 5)}x{n}" for n in range(15)] + ["zz-top-404", "qqq", '"*"', "NEAR(x y)", "%_%"]}


class Client:
    """One keep-alive connection; `get` returns (milliseconds, status, body)."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = headers

    def get(self, path: str) -> tuple[float, int, bytes]:
        start = time.perf_counter()
        self.connection.request("GET", path, headers=self.headers)
        response = self.connection.getresponse()
        body = response.read()
        return (time.perf_counter() - start) * 1000, response.status, body


def measure(port: int, headers: dict[str, str], queries: dict[str, list[str]], rounds: int) -> dict[str, list[float]]:
    client, times = Client(port, headers), {mode: [] for mode in MODES}
    for term in (t for ts in queries.values() for t in ts):  # warm up: caches, connections, the page cache
        client.get("/v1/search?" + urllib.parse.urlencode({"q": term, "n": 25}))
    for _ in range(rounds):
        for mode in MODES:
            for term in queries[mode]:
                ms, status, body = client.get("/v1/search?" + urllib.parse.urlencode({"q": term, "n": 25}))
                if status != 200:
                    raise BenchError(f"GET /v1/search?q={term}: {status} {body[:300]!r}")
                if (mode == "none") != (json.loads(body)["num_results"] == 0):
                    raise BenchError(f"{mode} term {term!r}: wrong number of matches for its kind (the bench's "
                                     f"data or terms are wrong)")
                times[mode].append(ms)
    return times


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(label: str, times: dict[str, list[float]]) -> bool:
    met = True
    print(f"\n{label}, load average {os.getloadavg()[0]:.1f}\n"
          "| kind of term | requests | p50 ms | p95 ms | p99 ms | goal p95 | result |\n"
          "|---|---:|---:|---:|---:|---|---|")
    for mode, values in [*times.items(), ("all", [v for vs in times.values() for v in vs])]:
        p95 = percentile(values, 95)
        met &= p95 < GOAL_MS
        print(f"| {mode} | {len(values)} | {percentile(values, 50):.1f} | {p95:.1f} | {percentile(values, 99):.1f} "
              f"| < {GOAL_MS:.0f} | {'ok' if p95 < GOAL_MS else 'MISSED'} |")
    return met


def berth_admin(workdir: Path, *argv: str, stdin: str = "") -> None:
    result = subprocess.run([str(BERTH_BIN), *argv, "--data-dir", str(workdir / "data")], input=stdin, text=True,
                            capture_output=True)
    if result.returncode != 0:
        raise BenchError(f"berth-registry {' '.join(argv)}: {result.stderr.strip()}")


def run_database(label: str, workdir: Path, rows: list, queries: dict[str, list[str]], rounds: int) -> bool:
    met = True
    for auth in ("none", "token"):
        server = start_berth(workdir, f"berth-{auth}", auth)
        try:
            server.wait_ready(60)
            callers = {"anyone": {}} if auth == "none" else {
                "anonymous": {}, USER: bearer_token(server.base, "registry:catalog:search", (USER, PASSWORD))}
            for caller, headers in callers.items():
                met &= report(f"{label}, {len(rows):,} repositories, --auth {auth}, {caller}",
                              measure(server.port, headers, queries, rounds))
        finally:
            server.stop()
        if auth == "none":  # accounts for the token run: USER reads ORG's repositories through a team
            for user in (USER, "benchowner"):
                berth_admin(workdir, "user", "create", user, "--password-stdin", stdin=PASSWORD)
            berth_admin(workdir, "org", "create", ORG, "--owner", "benchowner")
            berth_admin(workdir, "team", "create", ORG, "readers", "--permission", "read")
            berth_admin(workdir, "team", "add", ORG, "readers", USER)
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repositories", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="passes over the 100 terms (default 3: 300 requests)")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (a private cluster)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a goal is missed")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = list(generate(args.repositories, args.seed))
    queries = terms(rows, args.seed)
    print(f"generated {len(rows):,} repositories in {time.perf_counter() - start:.1f} s")
    met = True
    with tempfile.TemporaryDirectory(prefix="berth-search-bench-") as tmp, ExitStack() as stack:
        sqlite_dir = Path(tmp) / "sqlite"
        berth_admin(sqlite_dir, "migrate")
        start = time.perf_counter()
        load_sqlite(sqlite_dir / "data" / "registry.db", rows)
        print(f"loaded into SQLite in {time.perf_counter() - start:.1f} s")
        met &= run_database("SQLite", sqlite_dir, rows, queries, args.rounds)
        if args.postgres:
            from tests.support.postgres import PostgresCluster
            cluster = stack.enter_context(PostgresCluster())
            os.environ["BERTH_DATABASE_URL"] = url = cluster.database("search_bench")
            pg_dir = Path(tmp) / "postgres"
            berth_admin(pg_dir, "migrate")
            start = time.perf_counter()
            asyncio.run(_load_postgres(url, rows))
            print(f"loaded into PostgreSQL in {time.perf_counter() - start:.1f} s")
            met &= run_database("PostgreSQL", pg_dir, rows, queries, args.rounds)
    print(f"\n{'all goals met' if met else 'GOAL MISSED'}")
    return 0 if met or args.no_fail else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"search_bench: {exc}", file=sys.stderr)
        sys.exit(2)
