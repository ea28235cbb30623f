"""oras-py against a real server: push and pull a file artifact with its own media types, and attach
artifacts to an image through `subject`, found again by the referrers API."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import oras.oci
import oras.provider
import pytest
import requests

from tests.support.images import OciImage
from tests.support.registry_process import RegistryProcess
from tests.support.skopeo import copy

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DATA_TYPE = "application/vnd.berth.test.data.v1"
CONFIG_TYPE = "application/vnd.berth.test.config.v1+json"
SIGNATURE_TYPE = "application/vnd.berth.test.signature.v1+json"
SBOM_TYPE = "application/vnd.berth.test.sbom.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def client(registry: RegistryProcess) -> oras.provider.Registry:
    return oras.provider.Registry(registry.host, insecure=True)


def test_push_and_pull_a_file_artifact(registry: RegistryProcess, client: oras.provider.Registry,
                                       tmp_path: Path) -> None:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(300_000))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"purpose": "e2e"}))
    target = f"{registry.host}/e2e/oras-file:v1"

    pushed = client.push(target=target, files=[f"{payload}:{DATA_TYPE}"], disable_path_validation=True,
                         manifest_config=f"{config}:{CONFIG_TYPE}", manifest_annotations={"e2e": "oras"})
    assert pushed.status_code == 201

    out = tmp_path / "out"
    files = client.pull(target=target, outdir=str(out))
    assert [Path(f).name for f in files] == ["payload.bin"]
    assert (out / "payload.bin").read_bytes() == payload.read_bytes()

    response = requests.get(f"{registry.url}/v2/e2e/oras-file/manifests/v1", headers={"Accept": OCI_MANIFEST},
                            timeout=10)
    assert response.headers["Content-Type"] == OCI_MANIFEST
    assert pushed.headers["Docker-Content-Digest"] == sha256(response.content)
    manifest = response.json()
    assert manifest["config"]["mediaType"] == CONFIG_TYPE
    assert manifest["config"]["digest"] == sha256(config.read_bytes())
    assert manifest["layers"][0]["mediaType"] == DATA_TYPE
    assert manifest["layers"][0]["digest"] == sha256(payload.read_bytes())
    assert manifest["annotations"] == {"e2e": "oras"}
    assert client.get_tags(f"{registry.host}/e2e/oras-file") == ["v1"]


def _referrers(registry: RegistryProcess, name: str, digest: str, artifact_type: str | None = None
               ) -> requests.Response:
    params = {"artifactType": artifact_type} if artifact_type else {}
    response = requests.get(f"{registry.url}/v2/{name}/referrers/{digest}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == OCI_INDEX
    return response


def test_artifacts_with_a_subject_are_listed_as_referrers(registry: RegistryProcess,
                                                          client: oras.provider.Registry,
                                                          busybox_layout: OciImage, tmp_path: Path) -> None:
    name = "e2e/oras-subject"
    copy(busybox_layout.ref, f"docker://{registry.host}/{name}:1")
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=busybox_layout.digest,
                               size=int(busybox_layout.descriptor["size"]))
    head = requests.head(f"{registry.url}/v2/{name}/manifests/{subject.digest}", timeout=10,
                         headers={"Accept": OCI_MANIFEST})
    assert head.status_code == 200  # the subject exists: referrers of a missing one would list too
    assert _referrers(registry, name, subject.digest).json()["manifests"] == []

    # An image-style artifact: its type is its config's media type.
    signature = tmp_path / "signature.json"
    signature.write_text(json.dumps({"signed": busybox_layout.digest}))
    config = tmp_path / "config.json"
    config.write_text("{}")
    pushed = client.push(target=f"{registry.host}/{name}:sig", files=[f"{signature}:{DATA_TYPE}"],
                         manifest_config=f"{config}:{SIGNATURE_TYPE}", subject=subject,
                         disable_path_validation=True, manifest_annotations={"kind": "signature"})
    assert pushed.headers.get("OCI-Subject") == subject.digest
    signature_digest = pushed.headers["Docker-Content-Digest"]

    # An OCI 1.1 artifact: a top-level artifactType and the empty config.
    sbom_digest = _push_sbom(client, registry.host, name, subject, tmp_path)

    referrers = _referrers(registry, name, subject.digest).json()["manifests"]
    listed = {entry["digest"]: entry for entry in referrers}
    assert set(listed) == {signature_digest, sbom_digest}
    assert listed[signature_digest]["artifactType"] == SIGNATURE_TYPE
    assert listed[signature_digest]["mediaType"] == OCI_MANIFEST
    assert listed[signature_digest]["annotations"] == {"kind": "signature"}
    assert listed[sbom_digest]["artifactType"] == SBOM_TYPE

    filtered = _referrers(registry, name, subject.digest, SBOM_TYPE)
    assert [entry["digest"] for entry in filtered.json()["manifests"]] == [sbom_digest]
    assert filtered.headers.get("OCI-Filters-Applied") == "artifactType"


def _push_sbom(client: oras.provider.Registry, host: str, name: str, subject: oras.oci.Subject,
               tmp_path: Path) -> str:
    container = client.get_container(f"{host}/{name}:sbom")
    sbom = tmp_path / "sbom.json"
    sbom.write_text(json.dumps({"packages": ["busybox"]}))
    layer = {"mediaType": "application/json", "digest": sha256(sbom.read_bytes()),
             "size": sbom.stat().st_size}
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"{}")
    config = {"mediaType": OCI_EMPTY, "digest": sha256(b"{}"), "size": 2}
    for path, descriptor in ((sbom, layer), (empty, config)):
        assert client.upload_blob(str(path), container, descriptor).status_code in (200, 201)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SBOM_TYPE, "config": config,
                "layers": [layer], "subject": dataclasses.asdict(subject)}
    response = client.upload_manifest(manifest, container)
    assert response.status_code == 201, response.text
    assert response.headers["OCI-Subject"] == subject.digest
    return str(response.headers["Docker-Content-Digest"])
