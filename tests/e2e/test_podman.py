"""podman (4.3) against a real server: push, pull and run busybox over plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.images import OciImage
from tests.support.podman import Podman
from tests.support.registry_process import RegistryProcess

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture(scope="module")
def pushed(podman: Podman, registry: RegistryProcess, busybox_layout: OciImage,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(image reference, manifest digest) of busybox pushed by podman from its own storage."""
    image = f"{registry.host}/e2e/podman-busybox:1"
    image_id = podman("pull", "--quiet", busybox_layout.ref).stdout.strip()
    podman("tag", image_id, image)
    digest_file = tmp_path_factory.mktemp("podman-push") / "digest"
    podman("push", "--tls-verify=false", "--digestfile", str(digest_file), image)
    yield image, digest_file.read_text().strip()
    podman("rmi", "--all", "--force", check=False)


def test_push_stores_the_manifest_podman_reported(registry: RegistryProcess, pushed: tuple[str, str]) -> None:
    _, digest = pushed
    response = requests.head(f"{registry.url}/v2/e2e/podman-busybox/manifests/1", timeout=10,
                             headers={"Accept": f"{OCI_MANIFEST}, {DOCKER_V2}"})
    assert response.status_code == 200
    assert response.headers["Docker-Content-Digest"] == digest


def test_pull_and_run(podman: Podman, pushed: tuple[str, str], tmp_path: Path) -> None:
    image, digest = pushed
    podman("rmi", "--all", "--force")
    assert podman("images", "--quiet").stdout.strip() == ""

    podman("pull", "--tls-verify=false", image)
    assert podman("image", "inspect", "--format", "{{.Digest}}", image).stdout.strip() == digest

    done = podman("run", "--rm", image, "echo", "hi")
    assert done.stdout == "hi\n"
