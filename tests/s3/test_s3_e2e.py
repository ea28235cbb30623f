"""`berth-registry serve` on S3 (SeaweedFS), driven by real clients: skopeo and the docker engine push and
pull (pulls follow the presigned redirects), and an upload that moves between two server processes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.docker_engine import DockerEngine, load_image
from tests.support.images import OciImage
from tests.support.registry_process import RegistryProcess
from tests.support.seaweedfs import SeaweedFS
from tests.support.skopeo import copy, inspect

pytestmark = pytest.mark.e2e
MiB = 1 << 20


def _server(root: Path, seaweedfs: SeaweedFS, prefix: str, **settings: str) -> RegistryProcess:
    env = {**os.environ, **seaweedfs.env(), "BERTH_STORAGE_URL": seaweedfs.url(prefix), **settings}
    return RegistryProcess(root / "data", root / "registry.log", workers=2, env=env)


@pytest.fixture(scope="module")
def s3_registry(tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS) -> Iterator[RegistryProcess]:
    server = _server(tmp_path_factory.mktemp("s3-registry"), seaweedfs, "e2e").start()
    yield server
    server.stop()


def test_skopeo_push_then_pull_through_presigned_redirects(s3_registry: RegistryProcess, seaweedfs: SeaweedFS,
                                                           multi_layer_layout: OciImage, tmp_path: Path) -> None:
    repo = f"docker://{s3_registry.host}/e2e/s3-skopeo"
    copy(multi_layer_layout.ref, f"{repo}:1")
    assert inspect(f"{repo}:1")["Layers"] == multi_layer_layout.layer_digests
    mark = s3_registry.log_size()
    pulled = OciImage(tmp_path / "pulled", "1")
    copy(f"{repo}:1", pulled.ref)
    assert pulled.digest == multi_layer_layout.digest
    for digest in pulled.layer_digests:
        assert pulled.blob(digest) == multi_layer_layout.blob(digest)
    blob_gets = [line for line in s3_registry.access_lines(mark, "GET") if "/blobs/sha256:" in line]
    assert blob_gets and all(" 307 " in line for line in blob_gets), blob_gets
    assert seaweedfs.multipart_uploads("e2e/") == []
    assert [key for key in seaweedfs.keys("e2e/") if "/uploads/" in key] == []


def test_an_upload_continued_by_a_second_server_process(s3_registry: RegistryProcess, seaweedfs: SeaweedFS,
                                                        tmp_path: Path) -> None:
    # Another server on the same database and bucket: a second replica, with its own memory.
    with RegistryProcess(s3_registry.data_dir, tmp_path / "second.log", workers=1, env=s3_registry.env) as second:
        data = os.urandom(14 * MiB + 3)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = requests.post(f"{s3_registry.url}/v2/e2e/replicas/blobs/uploads/", timeout=30)
        location = started.headers["Location"]
        for n, offset in enumerate(range(0, len(data), 6 * MiB)):
            body = data[offset:offset + 6 * MiB]
            server = (s3_registry, second)[n % 2]
            patched = requests.patch(server.url + location, data=body, timeout=60, headers={
                "Content-Range": f"{offset}-{offset + len(body) - 1}", "Content-Type": "application/octet-stream"})
            assert patched.status_code == 202, patched.text
        closed = requests.put(f"{second.url}{location}?digest={digest}", timeout=60)
        assert closed.status_code == 201, closed.text
        assert requests.get(f"{s3_registry.url}/v2/e2e/replicas/blobs/{digest}", timeout=30).content == data


def test_with_redirects_off_blobs_stream_through_the_server(seaweedfs: SeaweedFS, busybox_layout: OciImage,
                                                            tmp_path: Path) -> None:
    with _server(tmp_path, seaweedfs, "e2e-through", BERTH_S3_REDIRECT="false") as server:
        repo = f"docker://{server.host}/e2e/s3-through"
        copy(busybox_layout.ref, f"{repo}:1")
        mark = server.log_size()
        pulled = OciImage(tmp_path / "pulled", "1")
        copy(f"{repo}:1", pulled.ref)
        assert pulled.digest == busybox_layout.digest
        blob_gets = [line for line in server.access_lines(mark, "GET") if "/blobs/sha256:" in line]
        assert blob_gets and not any(" 307 " in line for line in blob_gets), blob_gets


def test_docker_push_then_pull_and_run(s3_registry: RegistryProcess, docker_engine: DockerEngine,
                                       busybox_layout: OciImage) -> None:
    repository = f"{s3_registry.host}/e2e/s3-docker"
    load_image(docker_engine, busybox_layout.ref, "berth-s3-busybox:1")
    docker_engine.docker("tag", "berth-s3-busybox:1", f"{repository}:1")
    docker_engine.docker("push", f"{repository}:1")  # chunked PATCHes, then PUT ?digest=
    docker_engine.docker("rmi", f"{repository}:1", "berth-s3-busybox:1")
    docker_engine.docker("pull", f"{repository}:1")  # blob GETs follow 307s to SeaweedFS
    done = docker_engine.docker("run", "--rm", "--network", "none", f"{repository}:1", "echo", "hi")
    assert done.stdout.strip() == "hi"
