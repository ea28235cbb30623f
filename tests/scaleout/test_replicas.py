"""Two replicas behind nginx on PostgreSQL and S3: any request may land on any replica.

Real clients go through nginx (docker login, push, pull, run; skopeo); raw requests go to one replica or
the other on purpose: an upload whose chunks alternate, a tag moved on one and read on the other, a token
from one used on the other. Then crashes: a replica killed (its whole process group, as a machine dies)
during a pull loop and in the middle of an upload.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.accounts import docker_login
from tests.support.docker_engine import DockerEngine, load_image
from tests.support.images import OciImage
from tests.support.oci_client import OCI_MANIFEST, image_manifest
from tests.support.registry_process import RegistryProcess
from tests.support.skopeo import copy

from .conftest import Cluster, _wait_ready

pytestmark = pytest.mark.e2e
MiB = 1 << 20


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def session_for(cluster: Cluster, repository: str) -> requests.Session:
    """An HTTP session holding a push-and-pull token for `repository`, from whichever replica nginx picks."""
    answer = requests.get(f"{cluster.nginx.url}/token", auth=cluster.credentials, timeout=30,
                          params={"service": "berth", "scope": f"repository:{repository}:pull,push"})
    assert answer.status_code == 200, answer.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return session


def push_blob_alternating(http: requests.Session, replicas: list[RegistryProcess], repository: str,
                          data: bytes, chunk: int) -> list[str]:
    """POST, PATCHes and the closing PUT of one upload, each on the next replica. Returns who took what."""
    started = http.post(f"{replicas[0].url}/v2/{repository}/blobs/uploads/", timeout=30)
    assert started.status_code == 202, started.text
    location, served = started.headers["Location"], [replicas[0].host]
    offsets = range(0, len(data), chunk)
    for number, offset in enumerate(offsets, start=1):
        replica = replicas[number % len(replicas)]
        part = data[offset:offset + chunk]
        answer = http.patch(replica.url + location, data=part, timeout=60, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{offset + len(part) - 1}", "Content-Length": str(len(part))})
        assert answer.status_code == 202, answer.text
        assert answer.headers["Range"] == f"0-{offset + len(part) - 1}"
        location = answer.headers["Location"]
        served.append(replica.host)
    closing = replicas[(len(offsets) + 1) % len(replicas)]
    closed = http.put(closing.url + location, params={"digest": digest_of(data)}, timeout=60)
    assert closed.status_code == 201, closed.text
    return served


def test_an_upload_whose_chunks_alternate_between_replicas(cluster: Cluster) -> None:
    http = session_for(cluster, "scale/chunked")
    data = os.urandom(13 * MiB + 7)  # parts of the multipart upload end in the middle of chunks
    served = push_blob_alternating(http, cluster.replicas, "scale/chunked", data, chunk=3 * MiB)
    assert set(served) == {replica.host for replica in cluster.replicas}
    for replica in cluster.replicas:  # both serve it, following the redirect to S3
        pulled = http.get(f"{replica.url}/v2/scale/chunked/blobs/{digest_of(data)}", timeout=60)
        assert pulled.status_code == 200 and digest_of(pulled.content) == digest_of(data)


def test_a_tag_moved_on_one_replica_is_served_by_the_other_at_once(cluster: Cluster) -> None:
    http = session_for(cluster, "scale/tags")
    a, b = cluster.replicas
    config = b'{"architecture": "amd64", "os": "linux"}'
    for blob in (config,):
        assert http.post(f"{a.url}/v2/scale/tags/blobs/uploads/", params={"digest": digest_of(blob)},
                         data=blob, timeout=30).status_code == 201
    for round_number in range(5):
        layer = os.urandom(1024)
        assert http.post(f"{b.url}/v2/scale/tags/blobs/uploads/", params={"digest": digest_of(layer)},
                         data=layer, timeout=30).status_code == 201
        manifest = image_manifest(config, [layer])
        writer, reader = (a, b) if round_number % 2 == 0 else (b, a)
        put = http.put(f"{writer.url}/v2/scale/tags/manifests/latest", data=manifest, timeout=30,
                       headers={"Content-Type": OCI_MANIFEST})
        assert put.status_code == 201, put.text
        got = http.get(f"{reader.url}/v2/scale/tags/manifests/latest", headers={"Accept": OCI_MANIFEST}, timeout=30)
        assert got.status_code == 200 and got.headers["Docker-Content-Digest"] == digest_of(manifest)


def test_docker_login_push_pull_and_run_through_nginx(cluster: Cluster, docker_engine: DockerEngine,
                                                      busybox_layout: OciImage) -> None:
    host = cluster.nginx.host
    docker_login(docker_engine, host, *cluster.credentials)
    image = f"{host}/scale/busybox:1"
    try:
        load_image(docker_engine, busybox_layout.ref, image)
        pushed = docker_engine.docker("push", image).stdout
        assert "1: digest: sha256:" in pushed
        docker_engine.docker("rmi", "--force", image)
        ran = docker_engine.docker("run", "--rm", "--network", "none", image, "echo", "through nginx")
        assert ran.stdout == "through nginx\n"
    finally:
        docker_engine.docker("logout", host, check=False)
        docker_engine.docker("rmi", "--force", image, check=False)
    for replica in cluster.replicas:  # round-robin: both took part
        assert "/v2/scale/busybox/" in replica.log_text()


def _pull_loop(source: str, destination: Path, stop: threading.Event, failures: list[str], pulls: list[int]) -> None:
    while not stop.is_set():
        try:
            copy(source, f"oci:{destination}:1", "--retry-times", "3")
            pulls.append(1)
        except AssertionError as failure:
            failures.append(str(failure)[-2000:])


def test_a_replica_killed_during_a_pull_loop(cluster: Cluster, multi_layer_layout: OciImage, tmp_path: Path) -> None:
    credentials = ":".join(cluster.credentials)
    source = f"docker://{cluster.nginx.host}/scale/pulled:1"
    copy(multi_layer_layout.ref, source, "--dest-creds", credentials)
    stop, failures, pulls = threading.Event(), [], []  # public: pulled anonymously
    loops = [threading.Thread(target=_pull_loop, args=(source, tmp_path / f"pull{n}", stop, failures, pulls))
             for n in range(2)]
    victim = cluster.replicas[0]
    try:
        for loop in loops:
            loop.start()
        time.sleep(3)
        os.killpg(victim.pid, signal.SIGKILL)  # the machine is gone: parent and workers at once
        time.sleep(6)
    finally:
        stop.set()
        for loop in loops:
            loop.join(120)
        victim.stop()
        victim.start(wait_ready=False)
        _wait_ready(victim)
    assert failures == [], failures[0]
    assert len(pulls) >= 4
    pulled = OciImage(tmp_path / "pull0", "1")
    assert pulled.digest == multi_layer_layout.digest


@pytest.fixture
def restarted(cluster: Cluster) -> Iterator[RegistryProcess]:
    """Replica b, brought back after the test whatever happened to it."""
    victim = cluster.replicas[1]
    yield victim
    victim.stop()
    victim.start(wait_ready=False)
    _wait_ready(victim)


def test_a_replica_killed_mid_upload_loses_nothing(cluster: Cluster, restarted: RegistryProcess) -> None:
    http = session_for(cluster, "scale/crash")
    survivor = cluster.replicas[0]
    data = os.urandom(24 * MiB)
    digest = digest_of(data)
    started = http.post(f"{restarted.url}/v2/scale/crash/blobs/uploads/", timeout=30)
    location = started.headers["Location"]

    def slow_body() -> Iterator[bytes]:
        for offset in range(0, len(data), MiB):
            yield data[offset:offset + MiB]
            if offset == 10 * MiB:
                os.killpg(restarted.pid, signal.SIGKILL)  # mid-body, parts already in S3
            time.sleep(0.02)

    with pytest.raises(requests.RequestException):
        http.patch(restarted.url + location, data=slow_body(), timeout=60,
                   headers={"Content-Type": "application/octet-stream"})
    # Nothing of it is visible; the upload the dead replica held is still known, at what was recorded.
    assert http.head(f"{survivor.url}/v2/scale/crash/blobs/{digest}", timeout=30).status_code == 404
    status = http.get(survivor.url + location, timeout=30)
    assert status.status_code in (204, 404), status.text
    if status.status_code == 204:
        assert int(status.headers["Range"].split("-")[1]) + 1 < len(data)
    # The client starts over on the replica still standing; the blob arrives whole.
    again = http.post(f"{survivor.url}/v2/scale/crash/blobs/uploads/", params={"digest": digest}, data=data,
                      timeout=120)
    assert again.status_code == 201, again.text
    pulled = http.get(f"{survivor.url}/v2/scale/crash/blobs/{digest}", timeout=60)
    assert pulled.status_code == 200 and digest_of(pulled.content) == digest
