"""Many clients pushing and pulling at once against `berth-registry serve --workers 2`, on the run's database
(PostgreSQL in its CI pass), with pools far smaller than the number of clients.

The pushes contend where a registry's rows are hot: every image shares one base layer (one blob row,
linked into every repository), every push moves the same `latest` tag of its repository, and every pull
is counted against the same few repositories. Every request must succeed; afterwards every tag names
the manifest last pushed to it, `latest` one of those pushed to its repository, pull counts add up
exactly (each worker batches its own), the log holds no error, and on PostgreSQL the two workers never
held more connections than their pools allow.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from registry.db.database import APPLICATION_NAME
from tests.support import databases
from tests.support.oci_client import OCI_MANIFEST, image_manifest
from tests.support.registry_process import RegistryProcess

pytestmark = pytest.mark.e2e

WORKERS, POOL_SIZE, MAX_OVERFLOW = 2, 2, 1
REPOSITORIES = [f"load/app{n}" for n in range(4)]
PUSHERS, PUSHES_EACH, PULLERS = 12, 5, 8
BASE = os.urandom(256 * 1024)  # in every image


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Load:
    latest: dict[str, set[str]] = field(default_factory=lambda: {r: set() for r in REPOSITORIES})
    tags: dict[tuple[str, str], str] = field(default_factory=dict)  # (repository, tag) -> manifest digest
    pulls: Counter[str] = field(default_factory=Counter)  # manifest GETs answered 200, by repository
    pushing: int = PUSHERS


async def expect(response: aiohttp.ClientResponse, *statuses: int) -> aiohttp.ClientResponse:
    assert response.status in statuses, f"{response.method} {response.url}: {response.status} {await response.text()}"
    return response


async def push_blob(http: aiohttp.ClientSession, base: str, repository: str, data: bytes) -> None:
    async with http.post(f"{base}/v2/{repository}/blobs/uploads/") as started:
        location = (await expect(started, 202)).headers["Location"]
    async with http.put(base + location, params={"digest": digest_of(data)}, data=data) as closed:
        await expect(closed, 201)


async def pusher(http: aiohttp.ClientSession, base: str, load: Load, number: int) -> None:
    try:
        for count in range(PUSHES_EACH):
            repository = REPOSITORIES[(number + count) % len(REPOSITORIES)]
            config = json.dumps({"architecture": "amd64", "os": "linux", "pusher": number, "n": count}).encode()
            layers = [BASE, os.urandom(4096)]
            for blob in (config, *layers):
                await push_blob(http, base, repository, blob)
            body = image_manifest(config, layers)
            own_tag = f"p{number}-{count}"
            for tag in (own_tag, "latest"):  # "latest": every pusher of the repository moves it at once
                async with http.put(f"{base}/v2/{repository}/manifests/{tag}", data=body,
                                    headers={"Content-Type": OCI_MANIFEST}) as response:
                    await expect(response, 201)
            load.latest[repository].add(digest_of(body))
            load.tags[(repository, own_tag)] = digest_of(body)
    finally:
        load.pushing -= 1


async def puller(http: aiohttp.ClientSession, base: str, load: Load, number: int) -> None:
    count = 0
    while load.pushing:
        repository = REPOSITORIES[(number + count) % len(REPOSITORIES)]
        count += 1
        async with http.get(f"{base}/v2/{repository}/manifests/latest", headers={"Accept": OCI_MANIFEST}) as got:
            if (await expect(got, 200, 404)).status == 404:  # nothing pushed there yet
                continue
            manifest = json.loads(await got.read())
        load.pulls[repository] += 1
        for layer in manifest["layers"]:
            async with http.get(f"{base}/v2/{repository}/blobs/{layer['digest']}") as blob:
                assert digest_of(await (await expect(blob, 200)).read()) == layer["digest"]


class ConnectionWatch:
    """On PostgreSQL, the most connections the registry's workers held at once, sampled every 20 ms."""

    def __init__(self, data_dir: Path) -> None:
        self.database = make_url(databases.database_url(data_dir)).database
        self.most = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        cluster = databases.postgres_cluster()
        while not self._stop.wait(0.02):
            held = cluster.psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{self.database}' "
                                f"AND application_name = '{APPLICATION_NAME}'")
            self.most = max(self.most, int(held))

    def __enter__(self) -> ConnectionWatch:
        if databases.on_postgresql():
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


async def test_many_pushes_and_pulls_at_once_all_succeed_and_add_up(tmp_path: Path) -> None:
    env = {**os.environ, "BERTH_DATABASE_POOL_SIZE": str(POOL_SIZE), "BERTH_DATABASE_MAX_OVERFLOW": str(MAX_OVERFLOW),
           "BERTH_DATABASE_POOL_TIMEOUT": "60", "BERTH_GC_INTERVAL": "0"}
    server = RegistryProcess(tmp_path / "data", tmp_path / "registry.log", workers=WORKERS, env=env).start()
    load = Load()
    try:
        connector = aiohttp.TCPConnector(limit=PUSHERS + PULLERS, force_close=True)  # spread over both workers
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
            with ConnectionWatch(server.data_dir) as watch:
                await asyncio.gather(*(pusher(http, server.url, load, n) for n in range(PUSHERS)),
                                     *(puller(http, server.url, load, n) for n in range(PULLERS)))
            for (repository, tag), digest in load.tags.items():
                async with http.head(f"{server.url}/v2/{repository}/manifests/{tag}",
                                     headers={"Accept": OCI_MANIFEST}) as found:
                    assert (await expect(found, 200)).headers["Docker-Content-Digest"] == digest
            for repository in REPOSITORIES:
                async with http.head(f"{server.url}/v2/{repository}/manifests/latest",
                                     headers={"Accept": OCI_MANIFEST}) as found:
                    assert (await expect(found, 200)).headers["Docker-Content-Digest"] in load.latest[repository]
        server.restart()  # stopping writes each worker's last pull counts
        async with aiohttp.ClientSession() as http:
            for repository in REPOSITORIES:
                async with http.get(f"{server.url}/api/v1/repositories/{repository}") as answer:
                    assert (await (await expect(answer, 200)).json())["pull_count"] == load.pulls[repository]
    finally:
        server.stop()
    assert len(load.tags) == PUSHERS * PUSHES_EACH and sum(load.pulls.values()) > 0
    assert not [line for line in server.log_text().splitlines() if " ERROR " in line or "Traceback" in line]
    if databases.on_postgresql():
        assert 0 < watch.most <= WORKERS * (POOL_SIZE + MAX_OVERFLOW), watch.most
