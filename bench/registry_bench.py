"""Benchmark berth against the reference registry (CNCF distribution), side by side on local disk.

Starts both registries, each in its own temporary directory, then per round:
  * skopeo push (oci: layout -> docker://) of a 210 MB, 3-layer incompressible image to a fresh repository
    on each registry, and skopeo pull (docker:// -> a fresh empty oci: layout), alternating which
    registry goes first;
  * wrk (64 connections, 2 threads) against GET /v2/<repo>/manifests/<tag> and GET /v2/<repo>/blobs/<digest>
    of a ~1 KB blob.
Prints medians, berth/reference ratios and a markdown summary; exits 1 if a goal is missed or a step failed.

    .venv/bin/python bench/registry_bench.py [--rounds N] [--quick] [--no-fail]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (  # noqa: E402
    ADMIN,
    OCI_MANIFEST,
    BenchError,
    Server,
    bearer_token,
    build_image,
    check_get,
    push_small_image,
    run_wrk,
    skopeo_copy,
    start_berth,
    start_reference,
)

OUT = Path(__file__).resolve().parent / "out"
NAMES = ("berth", "reference")
TOKEN = "berth-token"  # berth again, with --auth token: what auth costs
ERROR_LINES = r"ERROR|Traceback|level=error|\" 5\d\d | 5\d\d \d+B"


@dataclass
class Metric:
    """One measured quantity: samples per server, and the goal the subject/baseline ratio must meet
    (berth/reference, or for the cost of auth, berth with --auth token / berth with --auth none)."""

    label: str
    unit: str
    higher_is_better: bool
    goal: float
    pair: tuple[str, str] = NAMES  # (subject, baseline)
    samples: dict[str, dict[int, float]] = field(default_factory=dict)  # server -> round -> value
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.samples = {n: {} for n in self.pair}

    def median(self, name: str) -> float | None:
        values = list(self.samples[name].values())
        return statistics.median(values) if values else None

    def ratio(self) -> float | None:
        b, r = self.median(self.pair[0]), self.median(self.pair[1])
        return b / r if b is not None and r else None

    def paired_ratio(self) -> float | None:
        """Median of the rounds' own ratios: the two runs of a round are seconds apart, so this shrugs
        off load that drifts between rounds better than the ratio of medians (the figure the goal uses)."""
        b, r = self.samples[self.pair[0]], self.samples[self.pair[1]]
        ratios = [b[n] / r[n] for n in b.keys() & r.keys() if r[n]]
        return statistics.median(ratios) if ratios else None

    def status(self) -> str:
        ratio = self.ratio()
        if self.failures or ratio is None:
            return "FAILED"
        ratio = round(ratio, 2)  # judge the figure the table shows
        met = ratio >= self.goal if self.higher_is_better else ratio <= self.goal
        return "ok" if met else "missed"

    def goal_text(self) -> str:
        return f"{'≥' if self.higher_is_better else '≤'} {self.goal:g}"


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if unit == "s" else f"{value:,.0f}"


def _berth_revision() -> str:
    """The tree is the code under test: name its commit, and say when uncommitted changes are in it."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=OUT.parent, capture_output=True, text=True)
        return result.stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def _loadavg() -> str:
    """Other busy processes skew every figure here: show the 1-minute load (2 cores: 2.0 is saturated)."""
    return Path("/proc/loadavg").read_text().split()[0]


def _order(round_no: int) -> tuple[str, str]:
    return NAMES if round_no % 2 == 0 else NAMES[::-1]


def _attempt(metric: Metric, server: Server, step: Callable[[], float], round_no: int) -> None:
    """Run one timed step; a failure is recorded with the server's error log lines, never raised."""
    try:
        value = step()
    except BenchError as exc:
        excerpt = server.log_tail(20, ERROR_LINES) or server.log_tail(20)
        metric.failures.append(f"{server.name} round {round_no + 1}: {exc}\n"
                               f"--- {server.name} log ---\n{excerpt}")
        print(f"    {server.name:<9} {metric.label}: FAILED ({str(exc).splitlines()[0]})", flush=True)
        return
    metric.samples[server.name][round_no] = value
    print(f"    {server.name:<9} {metric.label}: {_fmt(value, metric.unit)} {metric.unit}", flush=True)


def skopeo_round(servers: dict[str, Server], layout: Path, scratch: Path, round_no: int,
                 push: Metric, pull: Metric) -> None:
    repo = f"bench/push{round_no}"
    for name in _order(round_no):
        s = servers[name]
        _attempt(push, s, partial(skopeo_copy, f"oci:{layout}:1", f"docker://{s.host}/{repo}:1", scratch),
                 round_no)
    for name in _order(round_no):
        s, dest = servers[name], scratch / f"pull-{name}-{round_no}"
        _attempt(pull, s, partial(skopeo_copy, f"docker://{s.host}/{repo}:1", f"oci:{dest}:1", scratch),
                 round_no)
        shutil.rmtree(dest, ignore_errors=True)


@dataclass(frozen=True)
class GetTarget:
    """One URL wrk hammers on one registry, and the body size every response must carry."""

    path: str
    headers: dict[str, str]
    body_size: int


def wrk_step(server: Server, target: GetTarget, seconds: int) -> Callable[[], float]:
    def step() -> float:
        result = run_wrk(server.base + target.path, target.headers, seconds, target.body_size)
        if result.failed:
            raise BenchError(f"wrk GET {target.path}: {result.problems()}\n{result.output.strip()}")
        return result.requests_per_s
    return step


def wrk_round(servers: dict[str, Server], targets: dict[str, tuple[GetTarget, GetTarget]], seconds: int,
              round_no: int, metrics: tuple[Metric, Metric], auth: Metric) -> None:
    for kind, metric in enumerate(metrics):
        for name in _order(round_no):
            _attempt(metric, servers[name], wrk_step(servers[name], targets[name][kind], seconds), round_no)
    # The cost of auth: manifest GETs with a Bearer token against the same run on --auth none.
    baseline = metrics[0].samples["berth"].get(round_no)
    if baseline is not None:
        auth.samples["berth"][round_no] = baseline
        _attempt(auth, servers[TOKEN], wrk_step(servers[TOKEN], targets[TOKEN][0], seconds), round_no)


def prepare_small_image(servers: dict[str, Server]) -> dict[str, tuple[GetTarget, GetTarget]]:
    """Push the same tiny image to each and check each serves it; returns name -> (manifest, blob) GETs.
    The token-auth server gets the admin's push token, and its GETs carry a pull-only Bearer token."""
    small_blob = os.urandom(1024)
    targets = {}
    for name, s in servers.items():
        auth = bearer_token(s.base, "repository:bench/small:pull,push", ADMIN) if name == TOKEN else {}
        manifest_digest, blob_digest = push_small_image(s.base, "bench/small", "latest", small_blob, auth)
        if name == TOKEN:
            auth = bearer_token(s.base, "repository:bench/small:pull", ADMIN)
        manifest, accept = "/v2/bench/small/manifests/latest", {"Accept": OCI_MANIFEST, **auth}
        blob = f"/v2/bench/small/blobs/{blob_digest}"
        targets[name] = (GetTarget(manifest, accept, check_get(s.base + manifest, accept, manifest_digest)),
                         GetTarget(blob, auth, check_get(s.base + blob, auth, blob_digest)))
    return targets


def summary(metrics: list[Metric], rounds: int, wrk_seconds: int) -> str:
    lines = []
    for pair in dict.fromkeys(m.pair for m in metrics):
        subject, baseline = pair
        lines += [f"| {rounds} rounds, medians | {subject} | {baseline} | {subject}/{baseline} | per-round ratio "
                  "| goal | result |", "|---|---:|---:|---:|---:|---|---|"]
        for m in (m for m in metrics if m.pair == pair):
            ratio, paired = m.ratio(), m.paired_ratio()
            lines.append(f"| {m.label} ({m.unit}) | {_fmt(m.median(subject), m.unit)} | "
                         f"{_fmt(m.median(baseline), m.unit)} | {'-' if ratio is None else f'{ratio:.2f}'} | "
                         f"{'-' if paired is None else f'{paired:.2f}'} | {m.goal_text()} | {m.status()} |")
        lines.append("")
    lines.append(f"skopeo push/pull: 210 MB image, 3 layers of ~70 MB /dev/urandom; "
                 f"wrk: 64 connections, 2 threads, {wrk_seconds} s per run; {os.cpu_count()} cores, "
                 f"load average {_loadavg()} at the end; berth {_berth_revision()}.")
    return "\n".join(lines)


def run(rounds: int, wrk_seconds: int) -> list[Metric]:
    OUT.mkdir(exist_ok=True)
    print(f"image: building or reusing the cached 210 MB layout in {OUT} ...", flush=True)
    layout = build_image(OUT)
    metrics = [Metric("skopeo push 210 MB", "s", False, 1.0),
               Metric("skopeo pull 210 MB", "s", False, 1.0),
               Metric("manifest GET", "req/s", True, 1.5),
               Metric("small-blob GET (1 KB)", "req/s", True, 1.5),
               Metric("manifest GET", "req/s", True, 0.8, pair=(TOKEN, "berth"))]
    with ExitStack() as stack:
        dirs = {n: Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=f"bench-{n}-")))
                for n in (*NAMES, TOKEN, "scratch")}
        servers: dict[str, Server] = {}
        starters = (("berth", start_berth), ("reference", start_reference),
                    (TOKEN, partial(start_berth, name=TOKEN, auth="token")))
        for name, start in starters:
            servers[name] = s = start(dirs[name])
            stack.callback(shutil.copyfile, s.log_path, OUT / f"{name}.log")  # runs after stop: kept logs
            stack.callback(s.stop)
        for s in servers.values():
            s.wait_ready()
            print(f"{s.name}: pid {s.proc.pid} on {s.base}, log {s.log_path}", flush=True)
        targets = prepare_small_image(servers)
        for r in range(rounds):
            print(f"round {r + 1}/{rounds} (load average {_loadavg()})", flush=True)
            skopeo_round(servers, layout, dirs["scratch"], r, metrics[0], metrics[1])
            wrk_round(servers, targets, wrk_seconds, r, (metrics[2], metrics[3]), metrics[4])
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, help="rounds of every benchmark (default 5; 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and 3 s wrk runs instead of 10 s")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a goal is missed")
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    rounds = args.rounds or (2 if args.quick else 5)
    wrk_seconds = 3 if args.quick else 10
    try:
        metrics = run(rounds, wrk_seconds)
    except BenchError as exc:
        print(f"registry_bench: {exc}", file=sys.stderr)
        return 0 if args.no_fail else 2
    for m in metrics:
        for failure in m.failures:
            print(f"\nFAILED {m.label}: {failure}")
    print("\n" + summary(metrics, rounds, wrk_seconds))
    print(f"\nserver logs kept in {OUT}/berth.log and {OUT}/reference.log")
    missed = [m.label for m in metrics if m.status() != "ok"]
    if missed:
        print(f"goals missed or failed: {', '.join(missed)}")
    return 0 if args.no_fail or not missed else 1


if __name__ == "__main__":
    sys.exit(main())
