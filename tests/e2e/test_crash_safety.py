"""kill -9 during pushes: every completed push survives whole, nothing partial becomes visible."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support.oci_client import blob_sha256, image_manifest, push_blob_chunked, push_manifest
from tests.support.registry_process import RegistryProcess


@dataclass
class Push:
    repo: str
    tag: str
    config: bytes
    layers: list[bytes]
    done_blobs: set[str] = field(default_factory=set)  # digests whose closing PUT answered 201
    manifest_digest: str | None = None  # set when the manifest PUT answered 201

    @property
    def blobs(self) -> dict[str, bytes]:
        return {"sha256:" + hashlib.sha256(b).hexdigest(): b for b in [self.config, *self.layers]}


async def _push(session: aiohttp.ClientSession, base: str, push: Push) -> None:
    for data in [push.config, *push.layers]:
        push.done_blobs.add(await push_blob_chunked(session, base, push.repo, data, chunk_size=256 * 1024))
    body = image_manifest(push.config, push.layers)
    push.manifest_digest = await push_manifest(session, base, push.repo, push.tag, body)


async def _push_until_killed(server: RegistryProcess, pushes: list[Push], kill_after: float) -> None:
    async with aiohttp.ClientSession() as session:
        tasks = [asyncio.create_task(_push(session, server.url, p)) for p in pushes]
        await asyncio.sleep(kill_after)
        os.killpg(server.pid, signal.SIGKILL)  # the whole server, workers included: a crash
        await asyncio.gather(*tasks, return_exceptions=True)


async def _verify(server: RegistryProcess, pushes: list[Push]) -> None:
    async with aiohttp.ClientSession() as session:
        for push in pushes:
            async with session.get(f"{server.url}/v2/{push.repo}/manifests/{push.tag}") as response:
                if push.manifest_digest:
                    assert response.status == 200, f"completed push of {push.repo} lost"
                    assert response.headers["Docker-Content-Digest"] == push.manifest_digest
                else:
                    # In flight when killed: either whole (committed just before) or absent.
                    assert response.status in (200, 404)
                    if response.status == 200:
                        assert await response.read() == image_manifest(push.config, push.layers)
            for digest in push.blobs:
                status, actual = await blob_sha256(session, server.url, push.repo, digest)
                if digest in push.done_blobs:
                    assert (status, actual) == (200, digest), f"completed blob {digest} of {push.repo} lost"
                else:
                    assert status in (200, 404) and (status == 404 or actual == digest)


def _assert_store_is_clean(data_dir: Path) -> None:
    for path in (data_dir / "blobs").rglob("*"):
        if path.is_file():
            assert hashlib.new(path.parent.parent.name, path.read_bytes()).hexdigest() == path.name, path


def test_kill_9_during_pushes_loses_no_completed_push_and_shows_nothing_partial(own_registry: RegistryProcess):
    rng = random.Random(1234)
    all_pushes: list[Push] = []
    for round_ in range(4):
        pushes = [Push(f"crash/r{round_}-p{i}", "v1", os.urandom(300),
                       [os.urandom(rng.randrange(1, 6) << 20) for _ in range(2)]) for i in range(6)]
        asyncio.run(_push_until_killed(own_registry, pushes, kill_after=rng.uniform(0.05, 0.6)))
        own_registry.stop()  # reap what is left of the killed server
        own_registry.start()
        all_pushes += pushes
        asyncio.run(_verify(own_registry, all_pushes))
    _assert_store_is_clean(own_registry.data_dir)
    completed = [p for p in all_pushes if p.manifest_digest]
    interrupted = [p for p in all_pushes if not p.manifest_digest]
    # The kills must land mid-push for this test to mean anything.
    assert interrupted, "every push finished before the kill: the test did not exercise a crash"
    assert completed or any(p.done_blobs for p in all_pushes)
