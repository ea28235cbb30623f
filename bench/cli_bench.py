"""Benchmark the berth CLI against the real clients, side by side, on one berth-registry (--auth none).

Per round, with the 210 MB 3-layer image of registry_bench:
  * pull into an empty store: `berth pull` (a fresh BERTH_HOME) vs `podman pull` (a private --root, the
    image removed after each round) vs `skopeo copy docker://... oci:EMPTY_DIR:1`;
  * push to a fresh repository: `berth push` (a fresh store holding only the image pushed, so nothing can
    be mounted) vs `skopeo copy oci:... docker://...` (skopeo's blob-info cache hidden, see _harness).
Prints every sample, then medians and ratios against the goals; exits 1 if a goal is missed.

    .venv/bin/python bench/cli_bench.py [--rounds N] [--no-fail]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import IMAGE_TAG, BenchError, build_image, skopeo_copy, start_berth  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
BERTH = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "berth"
# ENVIRONMENT.md: what podman needs on this machine (no systemd, cgroupfs, no network namespace).
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


@dataclass
class Comparison:
    """berth against one other client on one task: seconds per round, and the goal for the ratio."""

    label: str
    other: str
    goal: float  # berth/other must be at most this
    berth: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)

    def ratio(self) -> float | None:
        if not self.berth or not self.theirs:
            return None
        return statistics.median(self.berth) / statistics.median(self.theirs)

    def met(self) -> bool:
        ratio = self.ratio()
        return ratio is not None and round(ratio, 2) <= self.goal

    def row(self) -> str:
        def median(values: list[float]) -> str:
            return f"{statistics.median(values):.2f}" if values else "-"
        ratio = self.ratio()
        return (f"| {self.label} | {median(self.berth)} | {self.other} {median(self.theirs)} | "
                f"{'-' if ratio is None else f'{ratio:.2f}'} | ≤ {self.goal:g} | {'ok' if self.met() else 'missed'} |")


def timed(argv: list[str], what: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise BenchError(f"{what} exited {result.returncode}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return elapsed


class Podman:
    """podman with storage of its own under `root`, so the machine's images are never touched."""

    def __init__(self, root: Path) -> None:
        conf = root / "containers.conf"
        root.mkdir(parents=True, exist_ok=True)
        conf.write_text(CONTAINERS_CONF)
        self.env = {"CONTAINERS_CONF": str(conf)}
        self.argv = ["podman", "--root", str(root / "root"), "--runroot", str(root / "run")]

    def pull(self, ref: str) -> float:
        return timed([*self.argv, "pull", "--quiet", "--tls-verify=false", ref], f"podman pull {ref}", self.env)

    def remove_all(self) -> None:
        subprocess.run([*self.argv, "rmi", "--all", "--force"], capture_output=True, env={**os.environ, **self.env})


def berth_pull(ref: str, home: Path) -> float:
    return timed([str(BERTH), "pull", "--quiet", ref], f"berth pull {ref}", {"BERTH_HOME": str(home)})


def berth_push(layout: Path, ref: str, home: Path) -> float:
    """Time `berth push` from a store holding only this image (so there is nothing to mount from)."""
    home.mkdir(parents=True)  # skopeo makes the layout (berth's store) in it
    subprocess.run(["skopeo", "copy", "--quiet", "--preserve-digests", f"oci:{layout}:{IMAGE_TAG}",
                    f"oci:{home / 'images'}:{ref}"], check=True, capture_output=True)
    return timed([str(BERTH), "push", "--quiet", ref], f"berth push {ref}", {"BERTH_HOME": str(home)})


def sample(comparison: Comparison, who: str, step: Callable[[], float]) -> None:
    seconds = step()
    (comparison.berth if who == "berth" else comparison.theirs).append(seconds)
    print(f"    {comparison.label:<22} {who:<7} {seconds:.2f} s", flush=True)


def run(rounds: int) -> list[Comparison]:
    OUT.mkdir(exist_ok=True)
    print(f"image: building or reusing the cached 210 MB layout in {OUT} ...", flush=True)
    layout = build_image(OUT)
    vs_podman = Comparison("pull 210 MB", "podman pull", 0.8)
    vs_skopeo_pull = Comparison("pull 210 MB", "skopeo copy", 1.2)
    vs_skopeo_push = Comparison("push 210 MB", "skopeo push", 1.0)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as work_dir:
        work = Path(work_dir)
        (work / "registry").mkdir()
        server = start_berth(work / "registry")
        try:
            server.wait_ready()
            source = f"{server.host}/bench/source:{IMAGE_TAG}"
            skopeo_copy(f"oci:{layout}:{IMAGE_TAG}", f"docker://{source}", work)
            podman = Podman(work / "podman")
            for r in range(rounds):
                print(f"round {r + 1}/{rounds} (load average {Path('/proc/loadavg').read_text().split()[0]})")
                pulls = [("berth", vs_podman, partial(berth_pull, source, work / f"pull-home-{r}")),
                         ("podman", vs_podman, partial(podman.pull, source)),
                         ("skopeo", vs_skopeo_pull,
                          partial(skopeo_copy, f"docker://{source}", f"oci:{work / f'pull-oci-{r}'}:1", work))]
                for who, comparison, step in pulls if r % 2 == 0 else pulls[::-1]:
                    sample(comparison, who, step)
                vs_skopeo_pull.berth.append(vs_podman.berth[-1])  # the same berth pull, judged twice
                podman.remove_all()
                pushes = [("berth", partial(berth_push, layout, f"{server.host}/bench/berth{r}:1",
                                            work / f"push-home-{r}")),
                          ("skopeo", partial(skopeo_copy, f"oci:{layout}:{IMAGE_TAG}",
                                             f"docker://{server.host}/bench/skopeo{r}:1", work))]
                for who, step in pushes if r % 2 == 0 else pushes[::-1]:
                    sample(vs_skopeo_push, who, step)
                for leftover in work.glob(f"p*-*-{r}"):
                    shutil.rmtree(leftover, ignore_errors=True)
        finally:
            server.stop()
            shutil.copyfile(server.log_path, OUT / "cli-bench-registry.log")
    return [vs_podman, vs_skopeo_pull, vs_skopeo_push]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of every benchmark (default 5)")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when a goal is missed")
    args = parser.parse_args(argv)
    try:
        comparisons = run(max(1, args.rounds))
    except BenchError as exc:
        print(f"cli_bench: {exc}", file=sys.stderr)
        return 0 if args.no_fail else 2
    print(f"\n| {args.rounds} rounds, medians (s) | berth | other | berth/other | goal | result |")
    print("|---|---:|---:|---:|---|---|")
    for comparison in comparisons:
        print(comparison.row())
    print(f"\n{os.cpu_count()} cores, load average {Path('/proc/loadavg').read_text().split()[0]} at the end.")
    missed = [f"{c.label} vs {c.other}" for c in comparisons if not c.met()]
    if missed:
        print(f"goals missed: {', '.join(missed)}")
    return 0 if args.no_fail or not missed else 1


if __name__ == "__main__":
    sys.exit(main())
