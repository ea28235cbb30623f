"""Digests, names, tags and manifest parsing: the grammar the registry enforces at its boundary."""

import hashlib
import json

import pytest

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest, InvalidDigest
from registry.oci.manifest import InvalidManifest, parse_manifest
from registry.oci.reference import is_valid_name, is_valid_tag

SHA256 = "sha256:" + "a" * 64


def test_digest_parses_sha256_and_sha512_and_computes_them():
    assert str(Digest.parse(SHA256)) == SHA256
    assert Digest.parse("sha512:" + "b" * 128).algorithm == "sha512"
    assert Digest.of(b"hi", "sha512").encoded == hashlib.sha512(b"hi").hexdigest()


@pytest.mark.parametrize("text", [
    "", "sha256", "sha256:", "sha256:" + "A" * 64, "sha256:" + "a" * 63, "sha256:" + "a" * 65,
    "sha512:" + "a" * 64, "md5:" + "a" * 32, "sha256:../../etc/passwd", "sha256:" + "a" * 63 + "\n",
])
def test_malformed_or_unsupported_digests_are_refused(text):
    with pytest.raises(InvalidDigest):
        Digest.parse(text)


@pytest.mark.parametrize("name", ["a", "library/busybox", "a.b_c__d-e---f/g", "x" * 255, "0/1/2/3"])
def test_valid_repository_names(name):
    assert is_valid_name(name)


@pytest.mark.parametrize("name", ["", "A", "a/", "/a", "a//b", "a..b", "a___b", "-a", "a-", "x" * 256,
                                  "a/../b", "a b", "a\n", "é"])
def test_invalid_repository_names(name):
    assert not is_valid_name(name)


def test_tags_follow_the_spec_grammar():
    assert is_valid_tag("latest") and is_valid_tag("_x") and is_valid_tag("v1.2-3_4") and is_valid_tag("a" * 128)
    for bad in ("", ".x", "-x", "a" * 129, "a:b", "a/b", "a b"):
        assert not is_valid_tag(bad)


def _image(**extra):
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
           "config": {"mediaType": mt.OCI_CONFIG, "digest": SHA256, "size": 2},
           "layers": [{"mediaType": mt.OCI_LAYER_GZIP, "digest": "sha256:" + "b" * 64, "size": 9}]}
    doc.update(extra)
    return json.dumps(doc).encode()


def test_image_manifest_names_its_blobs_and_artifact_type():
    manifest = parse_manifest(_image(), mt.OCI_MANIFEST)
    assert {str(d) for d in manifest.required_blobs()} == {SHA256, "sha256:" + "b" * 64}
    assert manifest.effective_artifact_type() == mt.OCI_CONFIG
    assert parse_manifest(_image(artifactType="x/y"), None).effective_artifact_type() == "x/y"


def test_index_names_its_children_and_platforms():
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
        {"mediaType": mt.OCI_MANIFEST, "digest": SHA256, "size": 5,
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}]}
    parsed = parse_manifest(json.dumps(index).encode(), f"{mt.OCI_INDEX}; charset=utf-8")
    assert parsed.is_index and {str(d) for d in parsed.required_manifests()} == {SHA256}
    assert parsed.manifests[0].platform.variant == "v8"


def test_non_distributable_layers_need_no_blob():
    layer = {"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar", "digest": SHA256,
             "size": 1, "urls": ["https://example.invalid/layer"]}
    manifest = parse_manifest(_image(layers=[layer]), mt.OCI_MANIFEST)
    assert {str(d) for d in manifest.required_blobs()} == {SHA256}  # the config only


def test_media_type_comes_from_content_type_field_or_shape():
    doc = json.loads(_image())
    del doc["mediaType"]
    assert parse_manifest(json.dumps(doc).encode(), None).media_type == mt.OCI_MANIFEST
    assert parse_manifest(_image(mediaType=mt.DOCKER_MANIFEST), "application/json").media_type == mt.DOCKER_MANIFEST


@pytest.mark.parametrize("body, content_type", [
    (b"not json", None),
    (b"[]", None),
    (b'{"schemaVersion": 1}', None),
    (b'{"schemaVersion": true, "config": {}}', None),
    (_image(), mt.OCI_INDEX),  # declared type disagrees with the mediaType field
    (_image(mediaType="application/x-unknown"), None),
    (_image(layers=[{"mediaType": "x", "digest": "sha256:zz", "size": 1}]), None),
    (_image(layers=[{"mediaType": "x", "digest": SHA256, "size": -1}]), None),
    (_image(layers=[{"mediaType": "x", "digest": SHA256, "size": True}]), None),
    (_image(annotations={"a": 1}), None),
    (_image(subject="sha256:abc"), None),
    (b'{"schemaVersion": 2, "mediaType": "' + mt.OCI_INDEX.encode() + b'", "manifests": {}}', None),
    (b"[" * 100_000 + b"]" * 100_000, None),
])
def test_malformed_manifests_are_refused(body, content_type):
    with pytest.raises(InvalidManifest):
        parse_manifest(body, content_type)
