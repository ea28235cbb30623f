"""The Docker engine (20.10) against a real server: push, pull by tag and by digest, run, and a second tag
that reuses the layers already pushed."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.support.docker_engine import DockerEngine, load_image
from tests.support.images import OciImage
from tests.support.registry_process import RegistryProcess

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
LOCAL_NAME = "berth-e2e/busybox:1"


@dataclass(frozen=True)
class PushedImage:
    repository: str  # host/name
    name: str  # the repository name in the registry
    digest: str  # the manifest digest docker push printed
    image_id: str  # the local image id (its config digest)


def image_id(engine: DockerEngine, ref: str) -> str:
    return engine.docker("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


@pytest.fixture(scope="module")
def pushed(docker_engine: DockerEngine, registry: RegistryProcess, busybox_layout: OciImage
           ) -> Iterator[PushedImage]:
    """busybox loaded into the engine, tagged for the registry and pushed."""
    load_image(docker_engine, busybox_layout.ref, LOCAL_NAME)
    name = "e2e/docker-busybox"
    repository = f"{registry.host}/{name}"
    docker_engine.docker("tag", LOCAL_NAME, f"{repository}:1")
    output = docker_engine.docker("push", f"{repository}:1").stdout
    found = re.search(r"^1: digest: (sha256:[0-9a-f]{64}) size: \d+$", output, re.MULTILINE)
    assert found, output
    image = PushedImage(repository, name, found.group(1), image_id(docker_engine, LOCAL_NAME))
    yield image
    _forget(docker_engine, image)


def _forget(engine: DockerEngine, image: PushedImage) -> None:
    """Remove the image from the engine under every name, so that the next pull must fetch its blobs."""
    engine.docker("rmi", "--force", image.image_id, check=False)
    assert engine.docker("image", "inspect", image.image_id, check=False).returncode != 0


def test_push_stores_the_manifest_docker_reported(registry: RegistryProcess, pushed: PushedImage) -> None:
    response = requests.get(f"{registry.url}/v2/{pushed.name}/manifests/1", headers={"Accept": DOCKER_V2},
                            timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == DOCKER_V2
    assert response.headers["Docker-Content-Digest"] == pushed.digest
    assert "sha256:" + hashlib.sha256(response.content).hexdigest() == pushed.digest
    assert json.loads(response.content)["config"]["digest"] == pushed.image_id
    tags = requests.get(f"{registry.url}/v2/{pushed.name}/tags/list", timeout=10).json()
    assert "1" in tags["tags"]


def test_pull_by_tag(docker_engine: DockerEngine, registry: RegistryProcess, pushed: PushedImage) -> None:
    _forget(docker_engine, pushed)
    mark = registry.log_size()
    docker_engine.docker("pull", f"{pushed.repository}:1")
    assert image_id(docker_engine, f"{pushed.repository}:1") == pushed.image_id
    digests = json.loads(docker_engine.docker("image", "inspect", "--format", "{{json .RepoDigests}}",
                                              f"{pushed.repository}:1").stdout)
    assert f"{pushed.repository}@{pushed.digest}" in digests
    # docker pull HEADs the tag to learn its digest. It then GETs the manifest by
    # digest, unless containerd's content store still holds it from an earlier
    # pull (docker >= 20.10 caches manifests there), so only the HEAD and the
    # config blob are certain to reach the registry.
    seen = [" ".join(line.split()[:3]) for line in registry.access_lines(mark)]
    assert f"HEAD /v2/{pushed.name}/manifests/1 200" in seen
    assert f"GET /v2/{pushed.name}/blobs/{pushed.image_id} 200" in seen


def test_pull_by_digest(docker_engine: DockerEngine, pushed: PushedImage) -> None:
    _forget(docker_engine, pushed)
    by_digest = f"{pushed.repository}@{pushed.digest}"
    output = docker_engine.docker("pull", by_digest).stdout
    assert f"Digest: {pushed.digest}" in output
    assert image_id(docker_engine, by_digest) == pushed.image_id


def test_run_pulls_and_runs_the_image(docker_engine: DockerEngine, pushed: PushedImage) -> None:
    _forget(docker_engine, pushed)
    done = docker_engine.docker("run", "--rm", "--network", "none", f"{pushed.repository}:1", "echo", "hi")
    assert done.stdout == "hi\n"
    assert f"Digest: {pushed.digest}" in done.stderr  # it had to pull first


def test_second_tag_reuses_the_pushed_layers(docker_engine: DockerEngine, registry: RegistryProcess,
                                            pushed: PushedImage) -> None:
    docker_engine.docker("pull", f"{pushed.repository}:1")
    docker_engine.docker("tag", f"{pushed.repository}:1", f"{pushed.repository}:2")
    mark = registry.log_size()
    output = docker_engine.docker("push", f"{pushed.repository}:2").stdout
    assert "Layer already exists" in output
    assert f"2: digest: {pushed.digest} " in output
    uploads = [line for line in registry.access_lines(mark) if "/blobs/uploads/" in line]
    assert uploads == [], "docker uploaded blobs the registry already had"
    tags = requests.get(f"{registry.url}/v2/{pushed.name}/tags/list", timeout=10).json()["tags"]
    assert sorted(tags) == ["1", "2"]
