"""The local image store: verified blobs, resumable ingests, references in index.json, garbage collection."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from registry.oci.digest import Digest
from runtime.image_store import REF_NAME, BlobBusy, ImageStore, StoreError

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _image(store: ImageStore, layer: bytes = b"layer bytes") -> dict:
    config = store.put_blob(b'{"architecture":"amd64","os":"linux"}')
    layer_digest = store.put_blob(layer)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": str(config), "size": 38},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": str(layer_digest), "size": len(layer)}]}).encode()
    return {"mediaType": MANIFEST, "digest": str(store.put_blob(manifest)), "size": len(manifest)}


def test_a_new_store_is_an_oci_layout(tmp_path):
    store = ImageStore(tmp_path / "images")
    assert json.loads((tmp_path / "images" / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    assert json.loads((tmp_path / "images" / "index.json").read_text()) == {"schemaVersion": 2, "manifests": []}
    assert store.references() == []


def test_blobs_are_content_addressed_and_verified_on_read(tmp_path):
    store = ImageStore(tmp_path)
    digest = store.put_blob(b'{"a": 1}')
    assert store.blob_path(digest) == str(tmp_path / "blobs" / "sha256" / hashlib.sha256(b'{"a": 1}').hexdigest())
    assert store.read_json(digest) == {"a": 1}
    Path(store.blob_path(digest)).write_bytes(b'{"a": 2}')
    with pytest.raises(StoreError, match="corrupt"):
        store.read_blob(digest)


def test_an_ingest_verifies_digest_and_size_and_resumes_where_it_stopped(tmp_path):
    store = ImageStore(tmp_path)
    data = os.urandom(100_000)
    digest = Digest.of(data)
    with store.ingest(digest, len(data)) as writer:
        writer.write(data[:40_000])  # interrupted here
    assert not store.has_blob(digest)
    with store.ingest(digest, len(data)) as writer:
        assert writer.offset == 40_000
        writer.write(data[40_000:])
        writer.commit()
    assert Path(store.blob_path(digest)).read_bytes() == data
    wrong = Digest.of(b"something else")
    with store.ingest(wrong, len(data)) as writer, pytest.raises(StoreError, match="verification"):
        writer.write(data)
        writer.commit()
    assert not store.has_blob(wrong)
    with store.ingest(Digest.of(b"abc"), 2) as writer, pytest.raises(StoreError, match="larger"):
        writer.write(b"abc")


def test_one_writer_per_blob(tmp_path):
    store = ImageStore(tmp_path)
    digest = Digest.of(b"x")
    with store.ingest(digest, 1), pytest.raises(BlobBusy), store.ingest(digest, 1):
        pass


def test_references_are_named_index_entries(tmp_path):
    store = ImageStore(tmp_path)
    descriptor = _image(store)
    store.set_reference("127.0.0.1:5000/ns/app:1", descriptor)
    store.set_reference("127.0.0.1:5000/ns/app:2", descriptor)
    store.set_reference("127.0.0.1:5000/ns/app:1", descriptor)  # replaces, does not duplicate
    index = json.loads((tmp_path / "index.json").read_text())
    assert [m["annotations"][REF_NAME] for m in index["manifests"]] == ["127.0.0.1:5000/ns/app:2",
                                                                         "127.0.0.1:5000/ns/app:1"]
    assert store.resolve("127.0.0.1:5000/ns/app:1").digest == Digest.parse(descriptor["digest"])
    assert store.remove_reference("127.0.0.1:5000/ns/app:2") and not store.remove_reference("nope")
    assert [r.name for r in store.references()] == ["127.0.0.1:5000/ns/app:1"]


def test_garbage_collection_keeps_what_references_reach(tmp_path):
    store = ImageStore(tmp_path)
    kept = _image(store, b"kept layer")
    dropped = _image(store, b"dropped layer")
    store.set_reference("h/a:1", kept)
    store.set_reference("h/b:1", dropped)
    store.remove_reference("h/b:1")
    removed, freed = store.collect_garbage()
    assert removed == 2 and freed > 0  # the dropped manifest and its layer; the shared config stays
    assert store.has_blob(Digest.parse(kept["digest"])) and not store.has_blob(Digest.parse(dropped["digest"]))
    assert store.has_blob(Digest.of(b"kept layer")) and not store.has_blob(Digest.of(b"dropped layer"))


def _tag_many(root: str, prefix: str, descriptor: dict) -> None:
    store = ImageStore(__import__("pathlib").Path(root))
    for i in range(40):
        store.set_reference(f"h/{prefix}:{i}", descriptor)


def test_two_processes_tagging_at_once_lose_nothing(tmp_path):
    store = ImageStore(tmp_path)
    descriptor = _image(store)
    workers = [multiprocessing.Process(target=_tag_many, args=(str(tmp_path), p, descriptor)) for p in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert len(store.references()) == 80
