"""Benchmark `berth run --rm IMAGE echo hi` against `podman run --rm` (and runc alone, as the floor).

The busybox test image (tests/support/images.py, built offline with umoci) goes into a fresh BERTH_HOME with
`berth load` and into a private podman root; one warm-up run each (berth unpacks the layer then), then the
rounds alternate berth, podman and runc. Each sample is the wall time of the whole command, output captured.
Prints every sample, the medians and the ratio against the goal (berth <= 0.5 x podman); exits 1 if the goal
is missed (unless --no-fail).

    .venv/bin/python bench/run_bench.py [--rounds N] [--no-fail]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.containers.images import oci_archive  # noqa: E402
from tests.support.images import ImageCache  # noqa: E402

BERTH = ROOT / ".venv" / "bin" / "berth"
NAME = "127.0.0.1:5000/bench/busybox:1"
GOAL = 0.5
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "none"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - began
    if done.returncode != 0 or done.stdout != "hi\n":
        raise SystemExit(f"`{' '.join(argv)}` exited {done.returncode}: {done.stdout!r} {done.stderr[-2000:]}")
    return elapsed


class Runc:
    """runc alone on a bundle umoci unpacked: no image handling, no overlay, no state of berth's."""

    def __init__(self, work: Path, layout: Path) -> None:
        self.bundle, self.root, self.count = work / "bundle", work / "runc-state", 0
        subprocess.run(["umoci", "unpack", "--image", f"{layout}:1", str(self.bundle)], check=True,
                       capture_output=True)
        config = json.loads((self.bundle / "config.json").read_text())
        config["process"].update(args=["echo", "hi"], terminal=False)
        config["process"].pop("rlimits", None)
        (self.bundle / "config.json").write_text(json.dumps(config))

    def run(self) -> float:
        self.count += 1
        return timed(["runc", "--root", str(self.root), "run", "--bundle", str(self.bundle), f"bench-{self.count}"])


def unmounted(directory: Path, timeout: float = 30.0) -> None:
    """Wait until nothing is mounted under `directory`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/self/mountinfo") as mounts:
            if not any(line.split()[4].startswith(f"{directory}/") for line in mounts):
                return
        time.sleep(0.05)
    raise SystemExit(f"{directory} still has mounts after {timeout:.0f} s")


def compile_sources() -> None:
    """Byte-compile berth as an installed copy is (pip compiles at install). This tree is an editable install
    and PYTHONDONTWRITEBYTECODE is set here, so a module edited since its .pyc was written would otherwise be
    compiled again by every `berth run` measured."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "cli", "runtime", "registry"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when the goal is missed")
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("runc", "podman", "umoci")):
        print("needs root, runc, podman and umoci", file=sys.stderr)
        return 2
    compile_sources()
    # Errors removing it are ignored: podman sometimes keeps its overlay directory busy a moment after
    # `system reset` (EBUSY), and a leftover scratch directory must not turn the figures into a traceback.
    with tempfile.TemporaryDirectory(prefix="berth-run-bench-", ignore_cleanup_errors=True) as scratch:
        work = Path(scratch)
        image = ImageCache(work / "images").busybox()
        berth_env = {"BERTH_HOME": str(work / "berth-home")}
        subprocess.run([str(BERTH), "load", "-q", "-i", str(oci_archive(image, NAME, work / "busybox.tar"))],
                       env={**os.environ, **berth_env}, check=True, capture_output=True)
        (work / "containers.conf").write_text(CONTAINERS_CONF)
        podman_env = {"CONTAINERS_CONF": str(work / "containers.conf")}
        podman = ["podman", "--root", str(work / "podman-root"), "--runroot", str(work / "podman-run")]
        subprocess.run([*podman, "pull", "-q", image.ref], env={**os.environ, **podman_env}, check=True,
                       capture_output=True)
        podman_image = subprocess.run([*podman, "images", "-q"], env={**os.environ, **podman_env}, check=True,
                                      capture_output=True, text=True).stdout.split()[0]
        runc = Runc(work, image.layout)
        # No network for either: podman's containers.conf says netns = "none" (its bridge would need firewall
        # changes here), and berth's default is a bridge of its own.
        berth_run = [str(BERTH), "run", "--rm", "--network", "none", NAME, "echo", "hi"]
        podman_run = [*podman, "run", "--rm", podman_image, "echo", "hi"]
        samples: dict[str, list[float]] = {"berth": [], "podman": [], "runc": []}
        try:
            timed(berth_run, berth_env)  # warm-up: the layer is unpacked once
            timed(podman_run, podman_env)
            for _ in range(args.rounds):
                samples["berth"].append(timed(berth_run, berth_env))
                samples["podman"].append(timed(podman_run, podman_env))
                samples["runc"].append(runc.run())
        finally:
            subprocess.run([*podman, "system", "reset", "-f"], env={**os.environ, **podman_env},
                           capture_output=True)
            unmounted(work)  # berth unmounts after `run --rm` has returned: the directory goes after that
    for who, values in samples.items():
        print(f"{who:7} " + " ".join(f"{v * 1000:.0f}" for v in values) + " ms")
    medians = {who: statistics.median(values) for who, values in samples.items()}
    ratio = medians["berth"] / medians["podman"]
    print(f"median: berth {medians['berth'] * 1000:.1f} ms, podman {medians['podman'] * 1000:.1f} ms, "
          f"runc alone {medians['runc'] * 1000:.1f} ms")
    print(f"berth/podman = {ratio:.2f} (goal <= {GOAL}) {'met' if ratio <= GOAL else 'MISSED'}; "
          f"berth/runc = {medians['berth'] / medians['runc']:.2f}")
    return 0 if ratio <= GOAL or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
