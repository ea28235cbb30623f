"""Benchmark pull plus first run of a fresh ~210 MB image: `berth run --rm REF true` against `podman run --rm`.

The image is the busybox test image (tests/support/images.py) with three layers on top, each one file of
70,000,000 bytes from /dev/urandom (incompressible), gzipped: built once into bench/out/first-run/ (delete
`first-run/image.complete` to rebuild). A real `berth-registry serve` on 127.0.0.1 serves it (pushed with
skopeo). Each round times, alternating which goes first, `berth run --rm --network none REF true` with an
empty BERTH_HOME and `podman run --rm --tls-verify=false REF true` with an empty private root (netns none):
download, decompress, unpack and start, as a user's first `run` of an image does. Prints every sample, the
medians and the ratio against the goal (berth <= 1.0 x podman); exits 1 if the goal is missed (unless
--no-fail).

    .venv/bin/python bench/first_run_bench.py [--rounds N] [--no-fail]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))
from _harness import skopeo_copy, start_berth  # noqa: E402
from run_bench import CONTAINERS_CONF, compile_sources, unmounted  # noqa: E402

from tests.support.images import REF_NAME, ImageCache, OciImage  # noqa: E402

BERTH = ROOT / ".venv" / "bin" / "berth"
CACHE = BENCH / "out" / "first-run"
LAYERS, LAYER_BYTES = 3, 70_000_000
REPOSITORY = "bench/first-run"
GOAL = 1.0
TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class _Hashing:
    """A binary file that hashes what is written through it (and counts it)."""

    def __init__(self, target: object) -> None:
        self.target, self.sha256, self.size = target, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.target.write(data)  # type: ignore[attr-defined, no-any-return]

    def flush(self) -> None:
        self.target.flush()  # type: ignore[attr-defined]


def _random_layer(blobs: Path, name: str) -> tuple[dict[str, object], str]:
    """A gzipped tar holding one file `name` of LAYER_BYTES random bytes: (descriptor, diff_id)."""
    partial = blobs / "partial"
    with partial.open("wb") as raw:
        compressed = _Hashing(raw)
        with gzip.GzipFile(fileobj=compressed, mode="wb", compresslevel=6, mtime=0) as zipped:  # Go's default
            plain = _Hashing(zipped)
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.mtime = LAYER_BYTES, 0o644, 1_600_000_000
                with open("/dev/urandom", "rb") as source:
                    tar.addfile(info, source)
    digest = compressed.sha256.hexdigest()
    partial.rename(blobs / digest)
    return ({"mediaType": TAR_GZIP, "digest": f"sha256:{digest}", "size": compressed.size},
            f"sha256:{plain.sha256.hexdigest()}")


def _put_json(blobs: Path, doc: dict[str, object]) -> dict[str, object]:
    data = json.dumps(doc).encode()
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_image(cache: Path) -> OciImage:
    """busybox plus LAYERS random layers, as an OCI layout with tag 1 (built once, then reused)."""
    layout, done = cache / "image", cache / "image.complete"
    if done.exists():
        return OciImage(layout, "1")
    shutil.rmtree(cache, ignore_errors=True)
    base = ImageCache(cache / "base").busybox()
    shutil.copytree(base.layout, layout)
    blobs = layout / "blobs" / "sha256"
    manifest, config = base.manifest, json.loads(base.blob(base.config_digest))
    for number in range(LAYERS):
        descriptor, diff_id = _random_layer(blobs, f"data/random-{number}")
        manifest["layers"].append(descriptor)
        config["rootfs"]["diff_ids"].append(diff_id)
        config.setdefault("history", []).append({"created_by": f"bench: {LAYER_BYTES} random bytes"})
    manifest["config"] = {**manifest["config"], **_put_json(blobs, config)}
    entry = {"mediaType": manifest.get("mediaType", OCI_MANIFEST), **_put_json(blobs, manifest),
             "annotations": {REF_NAME: "1"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    shutil.rmtree(cache / "base")
    done.touch()
    return OciImage(layout, "1")


def timed(argv: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(argv)}` exited {done.returncode}: {done.stdout[-500:]!r} {done.stderr[-2000:]}")
    return elapsed


class Contenders:
    """berth and podman, each starting from nothing in its own directory every round."""

    def __init__(self, work: Path, ref: str) -> None:
        self.work, self.ref, self.round = work, ref, 0
        (work / "containers.conf").write_text(CONTAINERS_CONF)
        self.podman_env = {"CONTAINERS_CONF": str(work / "containers.conf")}

    def berth(self) -> float:
        home = self.work / f"berth-{self.round}"
        try:
            return timed([str(BERTH), "run", "--rm", "--network", "none", self.ref, "true"],  # as podman's netns
                         {"BERTH_HOME": str(home)})
        finally:
            unmounted(home)
            shutil.rmtree(home, ignore_errors=True)

    def podman(self) -> float:
        podman = ["podman", "--root", str(self.work / f"podman-{self.round}"),
                  "--runroot", str(self.work / f"podman-run-{self.round}")]
        try:
            return timed([*podman, "run", "--rm", "--tls-verify=false", self.ref, "true"], self.podman_env)
        finally:
            subprocess.run([*podman, "system", "reset", "-f"], env={**os.environ, **self.podman_env},
                           capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when the goal is missed")
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("runc", "podman", "umoci", "skopeo")):
        print("needs root, runc, podman, umoci and skopeo", file=sys.stderr)
        return 2
    compile_sources()
    image = build_image(CACHE)
    samples: dict[str, list[float]] = {"berth": [], "podman": []}
    with tempfile.TemporaryDirectory(prefix="berth-first-run-bench-") as scratch:
        work = Path(scratch)
        (work / "registry").mkdir()
        server = start_berth(work / "registry")
        try:
            server.wait_ready()
            ref = f"{server.host}/{REPOSITORY}:1"
            skopeo_copy(image.ref, f"docker://{ref}", work)
            contenders = Contenders(work, ref)
            for number in range(args.rounds):
                contenders.round = number
                order = ("berth", "podman") if number % 2 == 0 else ("podman", "berth")
                for who in order:
                    samples[who].append(getattr(contenders, who)())
                print(f"round {number + 1}: " + ", ".join(f"{w} {samples[w][-1]:.2f} s" for w in order), flush=True)
        finally:
            server.stop()
    medians = {who: statistics.median(values) for who, values in samples.items()}
    ratio = medians["berth"] / medians["podman"]
    print(f"median: berth {medians['berth']:.2f} s, podman {medians['podman']:.2f} s")
    print(f"berth/podman = {ratio:.2f} (goal <= {GOAL}) {'met' if ratio <= GOAL else 'MISSED'}")
    return 0 if ratio <= GOAL or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
