"""New images in the local store: a layer tar stored as a blob, an image state (config and layers) stored as
an image, and a container's changes committed as `docker commit` does.

An `ImageState` is an image being made: its OCI config (with rootfs.diff_ids and history) and its layers'
descriptors, bottom first. A build carries one per stage; commit starts from the container's image.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest

from .containers import Container
from .image_store import ImageStore
from .rootfs import Rootfs
from .rootfs.diff import write_diff

# docker's layer types, as an OCI manifest names the same bytes (a manifest of mixed families confuses clients)
OCI_LAYER_TYPES = {mt.DOCKER_LAYER: mt.OCI_LAYER_GZIP, "application/vnd.docker.image.rootfs.diff.tar": mt.OCI_LAYER}


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class ImageState:
    config: dict[str, Any] = field(default_factory=dict)  # the whole OCI image config
    layers: list[dict[str, Any]] = field(default_factory=list)  # descriptors, bottom first

    @classmethod
    def scratch(cls, os_name: str = "linux", architecture: str = "amd64") -> ImageState:
        return cls({"architecture": architecture, "os": os_name, "config": {},
                    "rootfs": {"type": "layers", "diff_ids": []}, "history": []}, [])

    @classmethod
    def of(cls, manifest: dict[str, Any], config: dict[str, Any]) -> ImageState:
        """A stored image's state, its layers' media types in OCI's words."""
        layers = [{**layer, "mediaType": OCI_LAYER_TYPES.get(layer.get("mediaType", ""), layer.get("mediaType"))}
                  for layer in manifest.get("layers") or []]
        state = cls(copy.deepcopy(config), layers)
        state.config.setdefault("config", {})
        state.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
        return state

    def copy(self) -> ImageState:
        return ImageState(copy.deepcopy(self.config), list(self.layers))

    @property
    def settings(self) -> dict[str, Any]:
        """The config's `config` object: Env, Cmd, Entrypoint, WorkingDir, User, Labels..."""
        return self.config.setdefault("config", {})

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config.get("rootfs", {}).get("diff_ids") or [])

    def add_layer(self, descriptor: dict[str, Any], diff_id: Digest, history: dict[str, Any]) -> None:
        self.layers.append(descriptor)
        self.config.setdefault("rootfs", {"type": "layers", "diff_ids": []})["diff_ids"].append(str(diff_id))
        self.config.setdefault("history", []).append(history)

    def add_history(self, history: dict[str, Any]) -> None:
        """A step that changes only the config: a history entry without a layer (docker's empty_layer)."""
        self.config.setdefault("history", []).append({**history, "empty_layer": True})

    def layer_digests(self) -> list[tuple[Digest, Digest | None]]:
        """(blob, diff_id) of each layer, bottom first: what LayerStore.ensure takes."""
        diff_ids = self.diff_ids
        return [(Digest.parse(layer["digest"]), Digest.parse(diff_ids[n]) if n < len(diff_ids) else None)
                for n, layer in enumerate(self.layers)]


def image_id(state: ImageState) -> Digest:
    """The id the image would have if stored now: its config's digest."""
    return Digest.of(_canonical(state.config))


def store_layer(store: ImageStore, write: Callable[[BinaryIO], None]) -> tuple[dict[str, Any], Digest]:
    """Store the tar that `write(stream)` writes as a gzip layer blob; returns its descriptor and its diff_id.
    The caller holds `store.writing()` until an image references the blob."""
    fd, temporary = tempfile.mkstemp(prefix="layer-", dir=f"{store.root}/ingest")
    try:
        with os.fdopen(fd, "wb") as out:
            sink = _GzipSink(out)
            write(sink)  # type: ignore[arg-type]  # write() is all tarfile's stream mode uses
            sink.close()
            out.flush()
            os.fsync(out.fileno())
        digest = Digest("sha256", sink.blob.hexdigest())
        if not store.has_blob(digest):
            ingest = store.ingest(digest, sink.size)
            os.replace(temporary, ingest.path)  # an ingest resumes from a complete file: it verifies and commits
            with ingest as writer:
                writer.commit()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return ({"mediaType": mt.OCI_LAYER_GZIP, "digest": str(digest), "size": sink.size},
            Digest("sha256", sink.diff_id.hexdigest()))


class _GzipSink:
    """Hashes the tar (diff_id), gzips it, hashes and writes the result (the blob's digest)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.size = out, 0
        self.diff_id, self.blob = hashlib.sha256(), hashlib.sha256()
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip framing

    def write(self, data: bytes) -> int:
        self.diff_id.update(data)
        self._emit(self._compressor.compress(data))
        return len(data)

    def close(self) -> None:
        self._emit(self._compressor.flush())

    def _emit(self, piece: bytes) -> None:
        self.blob.update(piece)
        self.out.write(piece)
        self.size += len(piece)


def store_image(store: ImageStore, state: ImageState, names: list[str]) -> tuple[Digest, Digest]:
    """Store `state` as an image named by each of `names` (none: untagged, keyed by its manifest digest);
    returns (image id, manifest digest)."""
    config_bytes = _canonical(state.config)
    config_digest = store.put_blob(config_bytes)
    manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config_digest), "size": len(config_bytes)},
                "layers": state.layers}
    manifest_bytes = _canonical(manifest)
    manifest_digest = store.put_blob(manifest_bytes)
    descriptor = {"mediaType": mt.OCI_MANIFEST, "digest": str(manifest_digest), "size": len(manifest_bytes)}
    for name in names or [str(manifest_digest)]:
        store.set_reference(name, descriptor)
    return config_digest, manifest_digest


def commit_container(store: ImageStore, container: Container, base: ImageState, settings: dict[str, Any],
                     *, message: str = "", author: str = "", names: list[str] | None = None) -> Digest:
    """The container's changes (its upper directory) as a new layer on `base`, with `settings` as the image's
    config; returns the new image's id."""
    state = base.copy()
    state.config["config"] = settings
    state.config["created"] = created = timestamp()
    if author:
        state.config["author"] = author
    command = " ".join([container.doc.get("Path", ""), *container.doc.get("Args", [])]).strip()
    history = {"created": created, "created_by": command}
    history |= {"author": author} if author else {}
    history |= {"comment": message} if message else {}
    with store.writing():
        descriptor, diff_id = store_layer(store, lambda out: write_diff(Rootfs(container.dir).upper, out))
        state.add_layer(descriptor, diff_id, history)
        image_id, _ = store_image(store, state, names or [])
    return image_id


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()
