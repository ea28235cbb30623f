"""The scale-out topology, natively: two `berth-registry serve --auth token` replicas on one PostgreSQL
database and one S3 bucket (SeaweedFS), each with its own empty data directory, behind Debian's nginx
(round-robin, deploy/nginx/berth-proxy.conf). Started once for this directory's tests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.support.accounts import new_password
from tests.support.nginx import Nginx
from tests.support.postgres import PostgresCluster, available
from tests.support.registry_process import RegistryProcess
from tests.support.seaweedfs import SeaweedFS

READY_TIMEOUT = 60.0


@dataclass
class Cluster:
    replicas: list[RegistryProcess]
    nginx: Nginx
    env: dict[str, str]  # what every replica runs with (admin commands too)
    admin_password: str

    @property
    def credentials(self) -> tuple[str, str]:
        return "admin", self.admin_password


def _wait_ready(replica: RegistryProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not replica.ping():
        if not replica.running():
            raise RuntimeError(f"a replica exited before it was ready:\n{replica.log_tail()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"a replica was not ready within {READY_TIMEOUT} s:\n{replica.log_tail()}")
        time.sleep(0.1)


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not available():
        pytest.skip("no PostgreSQL server installed (make test installs it)")
    root = tmp_path_factory.mktemp("scaleout")
    with PostgresCluster() as postgres, SeaweedFS(root / "s3") as s3:
        password = new_password()
        env = {**os.environ, **s3.env(), "BERTH_DATABASE_URL": postgres.database("berth_scaleout"),
               "BERTH_STORAGE_URL": s3.url("scaleout"), "BERTH_ADMIN_PASSWORD": password}
        replicas = [RegistryProcess(root / name / "data", root / name / "registry.log", workers=2, auth="token",
                                    env=env) for name in ("a", "b")]
        try:
            # Both at once on an empty database: they migrate and bootstrap one after the other.
            for replica in replicas:
                replica.start(wait_ready=False)
            for replica in replicas:
                _wait_ready(replica)
            nginx = Nginx(root / "nginx", [replica.host for replica in replicas]).start()
            try:
                yield Cluster(replicas, nginx, env, password)
            finally:
                nginx.stop()
        finally:
            for replica in replicas:
                replica.stop()
