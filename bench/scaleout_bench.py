"""Benchmark the scale-out topology (two replicas on PostgreSQL and S3 behind nginx) against the reference.

Starts a private PostgreSQL cluster, SeaweedFS, two `berth-registry serve --auth none` replicas sharing them
behind nginx, and the reference registry (CNCF distribution) on local disk. Then, per round (alternating
which goes first):
  * skopeo push and pull of the 210 MB 3-layer image through nginx and against the reference (pulls follow
    berth's default 307 redirects to presigned SeaweedFS URLs);
  * wrk manifest GETs through nginx and against the reference (reported, no goal);
  * 50 concurrent pulls of a 20 MB image through nginx, every blob's digest verified;
  * SeaweedFS alone storing the 210 MB image's layers (sent straight to it, as berth sends parts): the
    floor under any push through a registry that keeps its blobs there.
Finally one garbage collection of 10,000 unreferenced blobs on S3 (gc_bench.py's, in a bucket prefix and
database of its own). Prints medians, ratios and a markdown summary; exits 1 when a goal is missed.

    .venv/bin/python bench/scaleout_bench.py [--rounds N] [--no-fail]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import BenchError, build_image, check_get, push_small_image, run_wrk, skopeo_copy  # noqa: E402
from _scaleout import (  # noqa: E402
    GcRun,
    PullRun,
    Topology,
    concurrent_pulls,
    gc_on_s3,
    push_random_image,
    s3_alone,
    start_topology,
)
from registry_bench import OUT, Metric, _berth_revision, _fmt, _loadavg, _order  # noqa: E402

from tests.support.commands import CommandFailed  # noqa: E402

PULLERS = 50
SMALL_IMAGE = (2, 10 << 20)  # layers, bytes each: a 20 MiB image
GC_GOAL = 60.0


def _attempt(metric: Metric, name: str, step: Callable[[], float], round_no: int, topology: Topology) -> None:
    """One timed step; a failure is recorded with the servers' error lines, never raised."""
    try:
        value = step()
    except BenchError as exc:
        logs = topology.replica_errors() if name == "berth" else topology.reference.log_tail(20)
        metric.failures.append(f"{name} round {round_no + 1}: {exc}\n{logs}")
        print(f"    {name:<9} {metric.label}: FAILED ({str(exc).splitlines()[0]})", flush=True)
        return
    metric.samples[name][round_no] = value
    print(f"    {name:<9} {metric.label}: {_fmt(value, metric.unit)} {metric.unit}", flush=True)


def _hosts(topology: Topology) -> dict[str, str]:
    return {"berth": topology.nginx.host, "reference": topology.reference.host}


def skopeo_round(topology: Topology, layout: Path, scratch: Path, round_no: int, push: Metric,
                 pull: Metric) -> None:
    hosts, repo = _hosts(topology), f"bench/push{round_no}"
    for name in _order(round_no):
        step = partial(skopeo_copy, f"oci:{layout}:1", f"docker://{hosts[name]}/{repo}:1", scratch)
        _attempt(push, name, step, round_no, topology)
    for name in _order(round_no):
        dest = scratch / f"pull-{name}-{round_no}"
        step = partial(skopeo_copy, f"docker://{hosts[name]}/{repo}:1", f"oci:{dest}:1", scratch)
        _attempt(pull, name, step, round_no, topology)
        shutil.rmtree(dest, ignore_errors=True)


def wrk_round(topology: Topology, targets: dict[str, tuple[str, dict[str, str], int]], seconds: int,
              round_no: int, metric: Metric) -> None:
    def step(url: str, headers: dict[str, str], body: int) -> float:
        result = run_wrk(url, headers, seconds, body)
        if result.failed:
            raise BenchError(f"wrk GET {url}: {result.problems()}\n{result.output.strip()}")
        return result.requests_per_s
    for name in _order(round_no):
        _attempt(metric, name, partial(step, *targets[name]), round_no, topology)


def prepare_manifest_targets(topology: Topology) -> dict[str, tuple[str, dict[str, str], int]]:
    """The same tiny image on both; each serves its manifest right before wrk hammers it."""
    blob, accept, targets = os.urandom(1024), {"Accept": "application/vnd.oci.image.manifest.v1+json"}, {}
    for name, base in (("berth", topology.nginx.url), ("reference", topology.reference.base)):
        digest, _ = push_small_image(base, "bench/small", "latest", blob)
        url = f"{base}/v2/bench/small/manifests/latest"
        targets[name] = (url, accept, check_get(url, accept, digest))
    return targets


def summary(metrics: list[Metric], pulls: list[PullRun], gc: GcRun | None, floors: list[float], rounds: int,
            load: tuple[str, str]) -> str:
    lines = [f"| {rounds} rounds, medians | berth (2 replicas, nginx, PostgreSQL, S3) | reference (disk) | "
             "berth/reference | per-round ratio | goal | result |", "|---|---:|---:|---:|---:|---|---|"]
    for m in metrics:
        ratio, paired = m.ratio(), m.paired_ratio()
        goal, result = (m.goal_text(), m.status()) if m.goal else ("report only", "FAILED" if m.failures else "-")
        lines.append(f"| {m.label} ({m.unit}) | {_fmt(m.median('berth'), m.unit)} | "
                     f"{_fmt(m.median('reference'), m.unit)} | {'-' if ratio is None else f'{ratio:.2f}'} | "
                     f"{'-' if paired is None else f'{paired:.2f}'} | {goal} | {result} |")
    lines += ["", "| berth only | figure | goal | result |", "|---|---:|---|---|"]
    errors = sum(len(p.errors) for p in pulls)
    wall = statistics.median(p.seconds for p in pulls) if pulls else None
    ok = sum(p.pulls for p in pulls)
    lines.append(f"| {PULLERS} concurrent pulls of a 20 MiB image, wall time (s), median of {len(pulls)} | "
                 f"{_fmt(wall, 's')} ({ok} pulls verified, {errors} errors) | 0 errors | "
                 f"{'ok' if pulls and not errors else 'FAILED'} |")
    if floors:
        reference = metrics[0].median("reference")
        floor = statistics.median(floors)
        versus = f"; {floor / reference:.2f}x the reference's whole push" if reference else ""
        lines.append(f"| SeaweedFS alone storing the 210 MB image's layers, 8 MiB parts (s), median of "
                     f"{len(floors)} | {floor:.2f}{versus} | floor under the push | - |")
    if gc is not None:
        r = gc.report
        lines.append(f"| GC of {r.blobs_deleted:,} unreferenced blobs on S3 (s) | {r.seconds:.1f} "
                     f"({r.blobs_deleted / max(r.seconds, 1e-9):,.0f} blobs/s) | < {GC_GOAL:g} s | {_gc_status(gc)} |")
    lines += ["", f"{os.cpu_count()} cores shared by everything; load average {load[0]} at the start, {load[1]} "
              f"at the end; berth {_berth_revision()}."]
    return "\n".join(lines)


def _gc_status(gc: GcRun | None) -> str:
    if gc is None or gc.rows_left or gc.keys_left:
        return "FAILED"
    return "ok" if gc.report.seconds < GC_GOAL else "missed"


def pull_step(topology: Topology, digest: str, round_no: int) -> PullRun:
    run = concurrent_pulls(topology.nginx.url, "bench/small20", "1", digest, PULLERS)
    print(f"    berth     {PULLERS} concurrent pulls: {run.seconds:.2f} s, {run.pulls} verified, "
          f"{run.bytes / 1e6:,.0f} MB, {run.redirects} redirects followed, {len(run.errors)} errors", flush=True)
    for error in run.errors[:5]:
        print(f"      {error}", flush=True)
    return run


def run(args: argparse.Namespace) -> tuple[list[Metric], list[PullRun], GcRun | None, list[float]]:
    OUT.mkdir(exist_ok=True)
    print(f"image: building or reusing the cached 210 MB layout in {OUT} ...", flush=True)
    layout = build_image(OUT)
    metrics = [Metric("skopeo push 210 MB", "s", False, 1.5), Metric("skopeo pull 210 MB", "s", False, 1.2),
               Metric("manifest GET", "req/s", True, 0.0)]  # goal 0: report only
    pulls: list[PullRun] = []
    floors: list[float] = []
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scaleout-")))
        os.chmod(root, 0o755)  # nginx workers (not root) reach their temporary directories under it
        topology = start_topology(stack, root, args.workers)
        for n, replica in enumerate(topology.replicas):
            stack.callback(shutil.copyfile, replica.log_path, OUT / f"scaleout-replica{n}.log")
            print(f"replica {n}: pid {replica.pid} on {replica.url}, log {replica.log_path}", flush=True)
        print(f"nginx on {topology.nginx.url}; SeaweedFS {topology.s3.endpoint}; PostgreSQL port "
              f"{topology.postgres.port}; reference pid {topology.reference.proc.pid} on {topology.reference.base}")
        targets = prepare_manifest_targets(topology)
        digest = push_random_image(topology.nginx.url, "bench/small20", "1", *SMALL_IMAGE)
        for r in range(args.rounds):
            print(f"round {r + 1}/{args.rounds} (load average {_loadavg()})", flush=True)
            skopeo_round(topology, layout, root, r, metrics[0], metrics[1])
            wrk_round(topology, targets, args.wrk_seconds, r, metrics[2])
            pulls.append(pull_step(topology, digest, r))
            floors.append(s3_alone(topology, layout))
            print(f"    SeaweedFS alone storing the layers: {floors[-1]:.2f} s", flush=True)
        print(f"gc: writing {args.gc_blobs:,} blobs to S3 and collecting them (load average {_loadavg()}) ...",
              flush=True)
        gc = gc_on_s3(topology, args.gc_blobs)
        print(f"gc: setup {gc.setup_seconds:.1f} s; {gc.report.summary()}; {gc.rows_left} rows and "
              f"{gc.keys_left} keys left", flush=True)
    return metrics, pulls, gc, floors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of push, pull, wrk and concurrent pulls")
    parser.add_argument("--workers", type=int, default=2, help="workers of each replica (default 2)")
    parser.add_argument("--wrk-seconds", type=int, default=10, help="length of each wrk run (default 10)")
    parser.add_argument("--gc-blobs", type=int, default=10_000, help="blobs for the GC benchmark")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a goal is missed")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    load_start = _loadavg()
    try:
        metrics, pulls, gc, floors = run(args)
    except (BenchError, RuntimeError, CommandFailed) as exc:
        print(f"scaleout_bench: {exc}", file=sys.stderr)
        return 0 if args.no_fail else 2
    for m in metrics:
        for failure in m.failures:
            print(f"\nFAILED {m.label}: {failure}")
    print("\n" + summary(metrics, pulls, gc, floors, args.rounds, (load_start, _loadavg())))
    missed = [m.label for m in metrics if m.goal and m.status() != "ok"]
    missed += [f"{PULLERS} concurrent pulls"] if not pulls or any(p.errors for p in pulls) else []
    missed += ["GC on S3"] if _gc_status(gc) != "ok" else []
    if missed:
        print(f"goals missed or failed: {', '.join(missed)}")
    return 0 if args.no_fail or not missed else 1


if __name__ == "__main__":
    sys.exit(main())
