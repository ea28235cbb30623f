"""Garbage collection while clients push, delete and pull, against a real `berth-registry serve` with
several workers: every push that completed can still be pulled in full, each blob byte for byte.

This is the race distribution's offline-only collector cannot survive (distribution issue 3045): a
client uploads a blob (or finds it there with HEAD) that the collector is about to delete, then pushes a
manifest referencing it. Here the collector runs all the time (every 0.2 s in the server with a 0.3 s
grace period, and `berth-registry gc --grace 0s` in a loop beside it), blobs are drawn from small pools
so that deleted ones are pushed again, and pushes wait up to 0.4 s between their blobs and their
manifest. A push may fail (MANIFEST_BLOB_UNKNOWN, when its blobs went first): that is allowed, and it is
pushed again; a push that succeeded must stay whole.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from tests.support.oci_client import OCI_MANIFEST, image_manifest
from tests.support.registry_process import RegistryProcess, serve_command

from .conftest import BACKENDS, database_url

pytestmark = pytest.mark.e2e
# The run ends once this much has happened (on a slow machine it takes longer, it does not do less), or fails
# at TIME_LIMIT.
COMPLETED_PUSHES, DELETED_PUSHES, CLI_COLLECTIONS = 30, 5, 1
TIME_LIMIT = 150.0
PUSHERS = 6
REPOSITORIES = ("safety/a", "safety/b", "safety/c")
BASES = [os.urandom(64 * 1024) for _ in range(3)]  # shared by many images: rarely garbage
RECYCLED = [os.urandom(random.randint(1, 32) * 1024) for _ in range(12)]  # garbage often, pushed again often


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Pushed:
    repository: str
    digest: str
    manifest: bytes
    blobs: tuple[str, ...]


@dataclass
class Tally:
    pushed: dict[str, Pushed] = field(default_factory=dict)  # by manifest digest: what must stay pullable
    completed: int = 0
    refused: int = 0
    deleted: int = 0
    verified: int = 0
    collections: list[dict[str, object]] = field(default_factory=list)
    deadline: float = field(default_factory=lambda: time.monotonic() + TIME_LIMIT)

    def enough(self) -> bool:
        return self.completed >= COMPLETED_PUSHES and self.deleted >= DELETED_PUSHES and \
            len(self.collections) >= CLI_COLLECTIONS

    def running(self) -> bool:
        return not self.enough() and time.monotonic() < self.deadline


async def push_blob(http: aiohttp.ClientSession, base: str, repo: str, data: bytes) -> None:
    digest = digest_of(data)
    if random.random() < 0.5:  # as docker does: skip what the registry says it has
        async with http.head(f"{base}/v2/{repo}/blobs/{digest}") as found:
            if found.status == 200:
                return
    if random.random() < 0.3:
        source = random.choice([r for r in REPOSITORIES if r != repo])
        async with http.post(f"{base}/v2/{repo}/blobs/uploads/", params={"mount": digest, "from": source}) as mount:
            if mount.status == 201:
                return
            assert mount.status == 202, f"mount: {mount.status} {await mount.text()}"  # else an upload starts
            location = mount.headers["Location"]
    else:
        async with http.post(f"{base}/v2/{repo}/blobs/uploads/") as started:
            assert started.status == 202, await started.text()
            location = started.headers["Location"]
    async with http.put(base + location, params={"digest": digest}, data=data) as closed:
        assert closed.status == 201, await closed.text()


async def pull_in_full(http: aiohttp.ClientSession, base: str, pushed: Pushed) -> None:
    async with http.get(f"{base}/v2/{pushed.repository}/manifests/{pushed.digest}",
                        headers={"Accept": OCI_MANIFEST}) as response:
        assert response.status == 200, f"{pushed.digest}: {response.status} {await response.text()}"
        assert await response.read() == pushed.manifest
    for digest in pushed.blobs:
        async with http.get(f"{base}/v2/{pushed.repository}/blobs/{digest}") as response:
            assert response.status == 200, f"{pushed.repository}@{pushed.digest} lost blob {digest}: {response.status}"
            assert digest_of(await response.read()) == digest, f"{digest}: other bytes"


async def pusher(http: aiohttp.ClientSession, base: str, tally: Tally, number: int) -> None:
    count = 0
    while tally.running():
        count += 1
        repo = random.choice(REPOSITORIES)
        config = json.dumps({"architecture": "amd64", "os": "linux", "pusher": number, "n": count}).encode()
        layers = [random.choice(BASES), *random.sample(RECYCLED, 2)]
        if random.random() < 0.3:
            layers.append(os.urandom(2048))
        for blob in (config, *layers):
            await push_blob(http, base, repo, blob)
        await asyncio.sleep(random.uniform(0, 0.4))  # what the grace period must cover
        body = image_manifest(config, layers)
        async with http.put(f"{base}/v2/{repo}/manifests/p{number}-{count}", data=body,
                            headers={"Content-Type": OCI_MANIFEST}) as response:
            if response.status == 400 and "MANIFEST_BLOB_UNKNOWN" in await response.text():
                tally.refused += 1
                continue
            assert response.status == 201, await response.text()
        pushed = Pushed(repo, digest_of(body), body, tuple(digest_of(b) for b in (config, *layers)))
        await pull_in_full(http, base, pushed)  # before the tally: other pushers delete what it holds
        tally.verified += 1
        tally.completed += 1
        tally.pushed[pushed.digest] = pushed
        if random.random() < 0.35:  # delete an earlier push: its blobs become garbage
            doomed = tally.pushed.pop(random.choice(list(tally.pushed)))
            async with http.delete(f"{base}/v2/{doomed.repository}/manifests/{doomed.digest}") as deleted:
                assert deleted.status == 202
            tally.deleted += 1


async def verifier(http: aiohttp.ClientSession, base: str, tally: Tally) -> None:
    """Pull earlier pushes again and again while the collector runs."""
    while tally.running():
        await asyncio.sleep(0.1)
        if tally.pushed:
            pushed = random.choice(list(tally.pushed.values()))
            try:
                await pull_in_full(http, base, pushed)
            except AssertionError:
                if pushed.digest in tally.pushed:  # not deleted by a pusher meanwhile
                    raise
            tally.verified += 1


async def collect(data_dir: Path, env: dict[str, str], tally: Tally) -> None:
    """One `berth-registry gc` beside the server's own collections (the lease lets one run at a time)."""
    process = await asyncio.create_subprocess_exec(
        str(serve_command()), "gc", "--data-dir", str(data_dir), "--grace", "0s", "--json", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode == 0:
        tally.collections.append(json.loads(out))
    else:
        assert b"another garbage collection is running" in err, err


async def collector_loop(data_dir: Path, env: dict[str, str], tally: Tally) -> None:
    while tally.running():
        await collect(data_dir, env, tally)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_every_completed_push_stays_pullable_while_the_collector_runs(request: pytest.FixtureRequest,
                                                                            tmp_path: Path, backend: str):
    env = {**os.environ, "BERTH_GC_INTERVAL": "0.2", "BERTH_GC_GRACE": "0.3", "BERTH_GC_DELETE_UNTAGGED": "true",
           "BERTH_DATABASE_URL": database_url(request, backend, tmp_path)}
    server = RegistryProcess(tmp_path / "data", tmp_path / "registry.log", workers=3, env=env)
    tally = Tally()
    with server:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            await asyncio.gather(*(pusher(http, server.url, tally, n) for n in range(PUSHERS)),
                                 verifier(http, server.url, tally), collector_loop(server.data_dir, env, tally))
            await collect(server.data_dir, env, tally)  # one more, all quiet
            for pushed in tally.pushed.values():
                await pull_in_full(http, server.url, pushed)
        server_runs = server.log_text().count("garbage collection freed")
    freed = sum(int(report["blobs_deleted"]) for report in tally.collections)  # type: ignore[call-overload]
    print(f"{tally.completed} pushes completed, {len(tally.pushed)} kept, {tally.deleted} deleted, "
          f"{tally.refused} refused, {tally.verified} pulls verified; {len(tally.collections)} CLI collections "
          f"freed {freed} blobs; {server_runs} server runs")
    assert tally.enough(), f"not done within {TIME_LIMIT:.0f} s"
    assert freed > 0 and server_runs > 0  # the collector did collect, beside the pushes
