"""skopeo against a real server: push, inspect, list tags, pull back, Docker v2 format, multi-arch copy,
delete, and cross-repository mount."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from tests.support.commands import CommandFailed
from tests.support.images import ImageCache, OciImage
from tests.support.registry_process import RegistryProcess
from tests.support.skopeo import copy, inspect, inspect_raw, list_tags, skopeo

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_push_then_inspect_and_list_tags(registry: RegistryProcess, busybox_layout: OciImage) -> None:
    repo = f"docker://{registry.host}/e2e/skopeo-push"
    copy(busybox_layout.ref, f"{repo}:1")
    copy(busybox_layout.ref, f"{repo}:latest")

    raw = inspect_raw(f"{repo}:1")
    assert sha256(raw) == busybox_layout.digest  # an OCI manifest travels byte for byte
    info = inspect(f"{repo}:1")
    assert info["Digest"] == busybox_layout.digest
    assert info["Layers"] == busybox_layout.layer_digests
    assert (info["Architecture"], info["Os"], info["Env"]) == ("amd64", "linux", ["PATH=/bin"])
    assert sorted(list_tags(repo)) == ["1", "latest"]


def test_copy_back_to_a_layout_keeps_every_digest(registry: RegistryProcess, multi_layer_layout: OciImage,
                                                  tmp_path: Path) -> None:
    repo = f"docker://{registry.host}/e2e/skopeo-roundtrip"
    copy(multi_layer_layout.ref, f"{repo}:1")
    pulled = OciImage(tmp_path / "pulled", "1")
    copy(f"{repo}:1", pulled.ref)

    assert len(multi_layer_layout.layer_digests) == 3
    assert pulled.layer_digests == multi_layer_layout.layer_digests
    assert pulled.config_digest == multi_layer_layout.config_digest
    assert pulled.digest == multi_layer_layout.digest
    for digest in pulled.layer_digests:
        assert pulled.blob(digest) == multi_layer_layout.blob(digest)


def test_push_as_docker_v2_schema2_is_served_with_its_media_type(registry: RegistryProcess,
                                                                 images: ImageCache) -> None:
    # Layers no other test pushes: converting cannot preserve digests, so nothing may be substituted.
    image = images.random_layers(layers=1, layer_size=256 << 10)
    name = "e2e/skopeo-v2s2"
    copy(image.ref, f"docker://{registry.host}/{name}:1", "--format", "v2s2", preserve_digests=False)

    response = requests.get(f"{registry.url}/v2/{name}/manifests/1", timeout=10,
                            headers={"Accept": f"{DOCKER_V2}, {OCI_MANIFEST}"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == DOCKER_V2
    manifest = response.json()
    assert manifest["mediaType"] == DOCKER_V2
    assert response.headers["Docker-Content-Digest"] == sha256(response.content)
    assert [layer["digest"] for layer in manifest["layers"]] == image.layer_digests
    assert manifest["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    head = requests.head(f"{registry.url}/v2/{name}/manifests/1", headers={"Accept": DOCKER_V2}, timeout=10)
    assert head.status_code == 200
    assert head.headers["Docker-Content-Digest"] == sha256(response.content)
    assert int(head.headers["Content-Length"]) == len(response.content)


def test_copy_all_pushes_a_multi_arch_index(registry: RegistryProcess, multi_arch_layout: OciImage) -> None:
    repo = f"docker://{registry.host}/e2e/skopeo-multiarch"
    copy(multi_arch_layout.ref, f"{repo}:1", "--all")

    raw = inspect_raw(f"{repo}:1")
    index = json.loads(raw)
    assert index["mediaType"] == OCI_INDEX
    assert sha256(raw) == multi_arch_layout.digest
    platforms = {entry["platform"]["architecture"]: entry["digest"] for entry in index["manifests"]}
    assert set(platforms) == {"amd64", "arm64"}
    for architecture, digest in platforms.items():
        child = inspect(f"{repo}@{digest}")
        assert child["Architecture"] == architecture
        assert sha256(inspect_raw(f"{repo}@{digest}")) == digest
    # skopeo resolves the tag through the index to the arm64 image (its "Digest" stays the index's).
    resolved = inspect(f"{repo}:1", "--override-arch", "arm64")
    assert (resolved["Architecture"], resolved["Digest"]) == ("arm64", multi_arch_layout.digest)


def test_delete_by_digest_then_inspect_fails(registry: RegistryProcess, busybox_layout: OciImage) -> None:
    repo = f"docker://{registry.host}/e2e/skopeo-delete"
    copy(busybox_layout.ref, f"{repo}:1")
    digest = inspect(f"{repo}:1")["Digest"]

    skopeo("delete", "--tls-verify=false", f"{repo}@{digest}")

    for ref in (f"{repo}@{digest}", f"{repo}:1"):
        with pytest.raises(CommandFailed) as failed:
            inspect(ref)
        assert "manifest unknown" in failed.value.stderr.lower()
    response = requests.get(f"{registry.url}/v2/e2e/skopeo-delete/manifests/{digest}", timeout=10,
                            headers={"Accept": OCI_MANIFEST})
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"


def test_copy_between_repositories_mounts_blobs(registry: RegistryProcess,
                                                multi_layer_layout: OciImage) -> None:
    source, target = "e2e/skopeo-mount-src", "e2e/skopeo-mount-dst"
    copy(multi_layer_layout.ref, f"docker://{registry.host}/{source}:1")
    mark = registry.log_size()

    copy(f"docker://{registry.host}/{source}:1", f"docker://{registry.host}/{target}:1")

    # skopeo sends POST .../uploads/?from=<repo>&mount=<digest> for each layer it knows the registry has.
    mounts = {}
    for line in registry.access_lines(mark, "POST"):
        url = urlsplit(line.split()[1])
        query = parse_qs(url.query)
        if url.path == f"/v2/{target}/blobs/uploads/" and "mount" in query:
            assert query["from"] == [source]
            mounts[query["mount"][0]] = line.split()[2]
    layers = multi_layer_layout.layer_digests
    assert {digest: mounts.get(digest) for digest in layers} == {digest: "201" for digest in layers}
    puts = " ".join(registry.access_lines(mark, "PUT"))
    for digest in layers:
        assert quote(digest) not in puts and digest not in puts, f"layer {digest} was uploaded again"
    assert inspect(f"docker://{registry.host}/{target}:1")["Digest"] == multi_layer_layout.digest


def test_large_incompressible_layers_round_trip(registry: RegistryProcess, images: ImageCache,
                                                tmp_path: Path) -> None:
    image = images.random_layers(layers=3, layer_size=8 << 20)
    assert all(layer["size"] > 8 << 20 for layer in image.manifest["layers"])  # gzip could not shrink them
    repo = f"docker://{registry.host}/e2e/skopeo-large"
    copy(image.ref, f"{repo}:1")

    pulled = OciImage(tmp_path / "pulled", "1")
    copy(f"{repo}:1", pulled.ref)
    assert pulled.digest == image.digest
    for digest in image.layer_digests:
        assert sha256(pulled.blob(digest)) == digest
