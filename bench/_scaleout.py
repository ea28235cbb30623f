"""Machinery for scaleout_bench: the scale-out topology, the 20 MB image, 50 concurrent pulls, GC on S3, and
the S3 server's own share of a push.

The topology is the tests' own (tests/scaleout/conftest.py): a private PostgreSQL cluster, SeaweedFS and two
`berth-registry serve --auth none` replicas behind nginx, built from the fixtures in tests/support, which
stop only the processes they started, by pid. The reference registry runs on local disk (the harness's).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _harness import OCI_MANIFEST, BenchError, Server, push_blob, start_reference  # noqa: E402
from gc_bench import link_aged, write_blobs  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from registry.db import Database  # noqa: E402
from registry.db.migrate import migrate  # noqa: E402
from registry.db.models import Blob  # noqa: E402
from registry.services.gc import GcOptions, GcReport, collect_garbage  # noqa: E402
from registry.storage import S3BlobStore  # noqa: E402
from registry.storage.s3parts import IN_FLIGHT, PART_SIZE  # noqa: E402
from tests.support.nginx import Nginx  # noqa: E402
from tests.support.postgres import PostgresCluster  # noqa: E402
from tests.support.registry_process import RegistryProcess  # noqa: E402
from tests.support.seaweedfs import SeaweedFS  # noqa: E402

READY_TIMEOUT = 60.0
LAYER_MEDIA = "application/vnd.oci.image.layer.v1.tar"
CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"


@dataclass
class Topology:
    postgres: PostgresCluster
    s3: SeaweedFS
    replicas: list[RegistryProcess]
    nginx: Nginx
    reference: Server

    def replica_errors(self, lines: int = 20) -> str:
        """The replicas' error lines (or their last lines), for a failed step's report."""
        out = []
        for n, replica in enumerate(self.replicas):
            text = replica.log_tail(2000).splitlines()
            errors = [line for line in text if "ERROR" in line or "Traceback" in line or '" 5' in line]
            out.append(f"--- replica {n} ---\n" + "\n".join((errors or text)[-lines:]))
        return "\n".join(out)


def _wait_ready(replica: RegistryProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not replica.ping():
        if not replica.running():
            raise BenchError(f"a replica exited before it was ready:\n{replica.log_tail(40)}")
        if time.monotonic() > deadline:
            raise BenchError(f"a replica was not ready within {READY_TIMEOUT:.0f} s:\n{replica.log_tail(40)}")
        time.sleep(0.1)


def start_topology(stack: ExitStack, root: Path, workers: int) -> Topology:
    """Everything on loopback; each piece's stop is pushed on `stack` as soon as it is started."""
    postgres = stack.enter_context(PostgresCluster())
    s3 = stack.enter_context(SeaweedFS(root / "s3", bucket="berth-bench"))
    env = {**os.environ, **s3.env(), "BERTH_DATABASE_URL": postgres.database("berth_scaleout"),
           "BERTH_STORAGE_URL": s3.url("registry")}
    replicas = [RegistryProcess(root / name / "data", root / name / "registry.log", workers=workers, auth="none",
                                env=env) for name in ("a", "b")]
    for replica in replicas:  # both at once on an empty database, as the tests and compose do
        stack.callback(replica.stop)
        replica.start(wait_ready=False)
    for replica in replicas:
        _wait_ready(replica)
    nginx = Nginx(root / "nginx", [replica.host for replica in replicas]).start()
    stack.callback(nginx.stop)
    (root / "reference").mkdir()
    reference = start_reference(root / "reference")
    stack.callback(reference.stop)
    reference.wait_ready()
    return Topology(postgres, s3, replicas, nginx, reference)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_random_image(base: str, repo: str, tag: str, layers: int, layer_bytes: int) -> str:
    """An image of `layers` incompressible layers (monolithic uploads); returns its manifest digest."""
    blobs = [os.urandom(layer_bytes) for _ in range(layers)]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [_digest(b) for b in blobs]}}).encode()
    for blob in (*blobs, config):
        push_blob(base, repo, blob)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": CONFIG_MEDIA, "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": LAYER_MEDIA, "digest": _digest(b), "size": len(b)} for b in blobs],
    }).encode()
    request = urllib.request.Request(f"{base}/v2/{repo}/manifests/{tag}", data=manifest, method="PUT",
                                     headers={"Content-Type": OCI_MANIFEST})
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 201:
            raise BenchError(f"PUT manifest {repo}:{tag}: {response.status}")
    return _digest(manifest)


@dataclass
class PullRun:
    """Concurrent pulls: wall time, what each fetched and every error (none is raised)."""

    seconds: float = 0.0
    pulls: int = 0
    bytes: int = 0
    redirects: int = 0  # 307s followed to the blob store
    errors: list[str] = field(default_factory=list)


async def _fetch_blob(session: aiohttp.ClientSession, url: str, digest: str, run: PullRun) -> None:
    hasher, size = hashlib.sha256(), 0
    async with session.get(url) as response:  # follows 307 to the presigned S3 URL
        if response.status != 200:
            raise BenchError(f"GET {url}: {response.status} {(await response.text())[:200]}")
        async for chunk in response.content.iter_chunked(1 << 20):
            hasher.update(chunk)
            size += len(chunk)
        run.redirects += len(response.history)
    if "sha256:" + hasher.hexdigest() != digest:
        raise BenchError(f"GET {url}: {size} bytes whose digest is not {digest}")
    run.bytes += size


async def _pull(base: str, repo: str, tag: str, manifest_digest: str, run: PullRun) -> None:
    """One client of its own: manifest (digest checked), then config and layers at once, each verified."""
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(timeout=timeout, read_bufsize=1 << 20) as session:
        async with session.get(f"{base}/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}) as response:
            body = await response.read()
            if response.status != 200 or _digest(body) != manifest_digest:
                raise BenchError(f"GET manifest: {response.status}, digest {_digest(body)}")
        manifest = json.loads(body)
        blobs = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
        await asyncio.gather(*(_fetch_blob(session, f"{base}/v2/{repo}/blobs/{d}", d, run) for d in blobs))
    run.pulls += 1


async def _pull_many(base: str, repo: str, tag: str, manifest_digest: str, count: int) -> PullRun:
    run = PullRun()

    async def one(n: int) -> None:
        try:
            await _pull(base, repo, tag, manifest_digest, run)
        except (TimeoutError, BenchError, aiohttp.ClientError, OSError) as exc:
            run.errors.append(f"pull {n}: {type(exc).__name__}: {exc}")
    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    run.seconds = time.perf_counter() - started
    return run


def concurrent_pulls(base: str, repo: str, tag: str, manifest_digest: str, count: int) -> PullRun:
    return asyncio.run(_pull_many(base, repo, tag, manifest_digest, count))


@dataclass
class GcRun:
    setup_seconds: float
    report: GcReport
    rows_left: int
    keys_left: int


async def _gc_on_s3(s3: SeaweedFS, database_url: str, prefix: str, count: int) -> GcRun:
    await asyncio.to_thread(migrate, database_url)
    store, db = S3BlobStore(s3.bucket, prefix, s3.config()), Database(database_url)
    try:
        started = time.perf_counter()
        blobs = await write_blobs(store, count, 1024)
        await link_aged(db, blobs)
        setup = time.perf_counter() - started
        report = await collect_garbage(db, store, GcOptions())
        async with db.read() as session:
            rows = await session.scalar(select(func.count()).select_from(Blob)) or 0
    finally:
        await store.close()
        await db.close()
    listing = await asyncio.to_thread(s3.client().list_objects_v2, Bucket=s3.bucket, Prefix=prefix + "/blobs/")
    return GcRun(setup, report, rows, int(listing.get("KeyCount", 0)))


def gc_on_s3(topology: Topology, count: int) -> GcRun:
    """gc_bench's collection of `count` unreferenced 1 KiB blobs, on the SeaweedFS bucket (prefix gc-bench)
    and a PostgreSQL database of its own: the registry's data is not touched."""
    url = topology.postgres.database("berth_gc_bench")
    return asyncio.run(_gc_on_s3(topology.s3, url, "gc-bench", count))


async def _s3_alone(s3: SeaweedFS, layers: list[bytes]) -> float:
    store = S3BlobStore(s3.bucket, "s3-alone", s3.config())
    client = await store.client()

    async def write(n: int, data: bytes) -> None:
        key = f"s3-alone/{n}"
        upload = (await client.create_multipart_upload(Bucket=s3.bucket, Key=key))["UploadId"]
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def send(number: int, body: bytes) -> dict[str, object]:
            async with gate:
                sent = await client.upload_part(Bucket=s3.bucket, Key=key, UploadId=upload, PartNumber=number,
                                                Body=body)
                return {"PartNumber": number, "ETag": sent["ETag"]}
        parts = await asyncio.gather(*(send(number, data[start:start + PART_SIZE])
                                       for number, start in enumerate(range(0, len(data), PART_SIZE), 1)))
        await client.complete_multipart_upload(Bucket=s3.bucket, Key=key, UploadId=upload,
                                               MultipartUpload={"Parts": list(parts)})
    try:
        started = time.perf_counter()
        await asyncio.gather(*(write(n, layer) for n, layer in enumerate(layers)))
        return time.perf_counter() - started
    finally:
        await asyncio.gather(*(client.delete_object(Bucket=s3.bucket, Key=f"s3-alone/{n}") for n in range(len(layers))))
        await store.close()


def s3_alone(topology: Topology, layout: Path) -> float:
    """Seconds SeaweedFS itself takes to store the image's layers (every blob over 1 MiB of the OCI layout),
    sent straight to it as berth sends them (8 MiB parts, IN_FLIGHT at once), all layers at once: a floor
    under any push through a registry that keeps its blobs there."""
    blobs = [blob for blob in (layout / "blobs" / "sha256").iterdir() if blob.stat().st_size > 1 << 20]
    layers = [blob.read_bytes() for blob in blobs]  # in memory beforehand: only S3's work is timed
    return asyncio.run(_s3_alone(topology.s3, layers))
