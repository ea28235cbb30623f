"""Writing archives: Docker 25's form (an OCI layout with manifest.json and repositories) or an OCI archive.

Blobs stream from the store into a tar whose headers are built here, so no layer is ever held in memory.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest
from registry.oci.manifest import InvalidManifest, parse_manifest

from ..image_store import ImageStore, StoreError
from .common import (
    _BLOCK,
    _RECORD,
    CHUNK,
    CONTAINERD_NAME,
    MAX_JSON,
    REF_NAME,
    ArchiveError,
    blob_member,
    familiar_name,
    json_bytes,
    split_name,
)


@dataclass(frozen=True)
class SavedImage:
    manifest: Digest  # an image manifest in the store (not an index)
    names: tuple[str, ...]  # full names, host/repository:tag; none when saved by id


@dataclass(frozen=True)
class _Plan:
    manifest: dict[str, Any]  # descriptor: mediaType, digest, size
    config: dict[str, Any]
    layers: list[dict[str, Any]]
    names: tuple[str, ...]

    def blobs(self) -> list[dict[str, Any]]:
        return [self.manifest, self.config, *self.layers]


def write_archive(store: ImageStore, images: Iterable[SavedImage], out: BinaryIO, *, docker: bool) -> None:
    """Stream `images` into `out`: Docker's archive (`docker`), else a plain OCI layout (skopeo's oci-archive)."""
    plans = [_plan(store, image) for image in images]
    tar = _TarWriter(out)
    tar.add_bytes("oci-layout", json_bytes({"imageLayoutVersion": "1.0.0"}))
    tar.add_directory("blobs/")
    written: set[str] = set()
    for descriptor in (d for plan in plans for d in plan.blobs()):
        digest = Digest.parse(descriptor["digest"])
        if str(digest) in written:
            continue
        if f"blobs/{digest.algorithm}" not in written:
            tar.add_directory(f"blobs/{digest.algorithm}/")
            written.add(f"blobs/{digest.algorithm}")
        with store.open_blob(digest) as blob:
            tar.add_blob(blob_member(digest), int(descriptor["size"]), blob, digest)
        written.add(str(digest))
    entries = [_index_entry(plan.manifest, name, docker) for plan in plans for name in plan.names or (None,)]
    tar.add_bytes("index.json", json_bytes({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": entries}))
    if docker:
        tar.add_bytes("manifest.json", json_bytes([_docker_entry(plan) for plan in plans]))
        tar.add_bytes("repositories", json_bytes(_repositories(plans)))
    tar.close()


def _plan(store: ImageStore, image: SavedImage) -> _Plan:
    try:
        body = store.read_blob(image.manifest, limit=MAX_JSON)
        manifest = parse_manifest(body, None)
    except (StoreError, InvalidManifest) as exc:
        raise ArchiveError(f"cannot save {image.names[0] if image.names else image.manifest}: {exc}") from None
    if manifest.is_index or manifest.config is None:
        raise ArchiveError(f"{image.manifest} is an index, not an image manifest")
    descriptors = [manifest.config, *manifest.layers]
    missing = [str(d.digest) for d in descriptors if not store.has_blob(d.digest)]
    if missing:
        raise ArchiveError(f"blob {missing[0]} of {image.names[0] if image.names else image.manifest} is not in "
                           "the store (a foreign layer, or a damaged store)")
    as_dict = [{"mediaType": d.media_type, "digest": str(d.digest), "size": d.size} for d in descriptors]
    top = {"mediaType": manifest.media_type, "digest": str(image.manifest), "size": len(body)}
    return _Plan(top, as_dict[0], as_dict[1:], image.names)


def _index_entry(manifest: dict[str, Any], name: str | None, docker: bool) -> dict[str, Any]:
    entry = dict(manifest)
    if name and docker:  # as Docker 25 and containerd write it: the tag alone as the OCI ref name
        entry["annotations"] = {CONTAINERD_NAME: name, REF_NAME: split_name(name)[1]}
    elif name:  # as berth's store and `skopeo copy ... oci-archive:FILE:NAME` write it
        entry["annotations"] = {REF_NAME: name}
    return entry


def _docker_entry(plan: _Plan) -> dict[str, Any]:
    return {"Config": blob_member(Digest.parse(plan.config["digest"])),
            "RepoTags": [familiar_name(name) for name in plan.names],
            "Layers": [blob_member(Digest.parse(layer["digest"])) for layer in plan.layers]}


def _repositories(plans: list[_Plan]) -> dict[str, dict[str, str]]:
    """The legacy `repositories` file: repository -> tag -> the top layer (read by nobody since Docker 1.10)."""
    found: dict[str, dict[str, str]] = {}
    for plan in (p for p in plans if p.layers):
        top = Digest.parse(plan.layers[-1]["digest"]).encoded
        for name in plan.names:
            repository, tag = split_name(familiar_name(name))
            found.setdefault(repository, {})[tag] = top
    return found


class _TarWriter:
    """A ustar/pax stream written header by header; member data is copied in chunks, never held whole."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.offset = out, 0

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.offset += len(data)

    def _header(self, name: str, size: int, kind: bytes = tarfile.REGTYPE) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.type, info.mode, info.mtime = size, kind, 0o755 if kind == tarfile.DIRTYPE else 0o644, 0
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def _pad(self, size: int) -> None:
        if size % _BLOCK:
            self._write(bytes(_BLOCK - size % _BLOCK))

    def add_directory(self, name: str) -> None:
        self._header(name, 0, tarfile.DIRTYPE)

    def add_bytes(self, name: str, data: bytes) -> None:
        self._header(name, len(data))
        self._write(data)
        self._pad(len(data))

    def add_blob(self, name: str, size: int, source: BinaryIO, digest: Digest) -> None:
        """Copy a store blob, checking on the way that it is `size` bytes with digest `digest`."""
        self._header(name, size)
        hasher, left = digest.hasher(), size
        while left:
            chunk = source.read(min(CHUNK, left))
            if not chunk:
                raise ArchiveError(f"blob {digest} in the store is shorter than its {size} bytes")
            hasher.update(chunk)
            self._write(chunk)
            left -= len(chunk)
        if source.read(1) or hasher.hexdigest() != digest.encoded:
            raise ArchiveError(f"blob {digest} in the store is corrupt: its content has another digest")
        self._pad(size)

    def close(self) -> None:
        self._write(bytes(2 * _BLOCK))
        self._write(bytes(-self.offset % _RECORD))
        self.out.flush()
