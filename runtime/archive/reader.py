"""Reading archives: Docker 20.10's and 25's forms and OCI archives, staged and checked before anything is stored.

Every member is staged, hashed on the way, as a file in the store's ingest/ directory (a crashed load leaves only
what garbage collection sweeps); paths, links, sizes and digests are checked; only then are blobs copied into the
store through its verifying writer: a hostile or broken archive adds nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import secrets
import tarfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest, InvalidDigest
from registry.oci.manifest import InvalidManifest, Manifest, parse_manifest

from ..image_store import BlobBusy, ImageStore
from .common import (
    _BZIP2,
    _GZIP,
    _HEX_NAME,
    _XZ,
    _ZSTD,
    CHUNK,
    CONTAINERD_NAME,
    MAX_DEPTH,
    MAX_GLOBAL_HEADERS,
    MAX_HEADER,
    MAX_JSON,
    MAX_LINK_HOPS,
    MAX_MEMBERS,
    REF_NAME,
    ArchiveError,
    blob_member,
    clip,
    hash_file,
    json_bytes,
    one_line,
)


@dataclass(frozen=True)
class LoadedImage:
    descriptor: dict[str, Any]  # what a store reference will name: mediaType, digest, size
    names: tuple[str, ...]  # as the archive wrote them (RepoTags, containerd or OCI ref names); may be empty
    image_id: Digest  # the config's digest (docker's image id); an index's own digest


@dataclass(frozen=True)
class _Staged:
    path: Path
    size: int
    sha256: str


@dataclass
class _Contents:
    blobs: dict[Digest, _Staged] = field(default_factory=dict)  # staged files to ingest, children first
    generated: dict[Digest, bytes] = field(default_factory=dict)  # manifests berth writes for Docker 20.10 images
    layers: set[Digest] = field(default_factory=set)


class StagedArchive:
    """An archive read into staging files, checked whole, then committed to the store at once.

    with StagedArchive(store) as archive:
        archive.read(stream)     # stage, check, and parse: ArchiveError on anything wrong
        archive.images           # what it holds
        archive.commit()         # copy the blobs into the store (verified again by its writer)
    Hold `store.writing()` around all of it, so that garbage collection neither sweeps the staging files
    nor the committed blobs before references name them.
    """

    def __init__(self, store: ImageStore) -> None:
        self.store = store
        self.images: list[LoadedImage] = []
        self._files: dict[str, _Staged] = {}
        self._links: dict[str, str] = {}
        self._created: list[Path] = []
        self._contents = _Contents()
        self._prefix = f"load-{os.getpid()}-{secrets.token_hex(4)}"

    def __enter__(self) -> StagedArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        for path in self._created:
            path.unlink(missing_ok=True)

    # staging

    def read(self, stream: BinaryIO) -> None:
        try:
            with tarfile.open(fileobj=stream, mode="r|*", tarinfo=_BoundedTarInfo) as tar:
                for count, member in enumerate(tar, 1):
                    if count > MAX_MEMBERS:
                        raise ArchiveError(f"the archive has more than {MAX_MEMBERS} entries")
                    self._stage(tar, member)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"not a readable tar archive: {one_line(exc)}") from None
        self.images = self._parse()

    def _stage(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = _member_name(member.name)
        if member.isdir():
            return
        if member.issym() or member.islnk():
            target = _link_target(name, member.linkname if member.issym() else "/".join(
                [".."] * name.count("/") + [member.linkname]))  # a hard link's target is relative to the root
            self._add(name, self._links, target)
        elif member.isreg() and not member.issparse():
            source = tar.extractfile(member)
            assert source is not None
            self._add(name, self._files, self._write_staged(source, member.size))
        else:
            raise ArchiveError(f"archive entry {clip(name)!r} is a device, fifo or other special file")

    def _add(self, name: str, entries: dict[str, Any], value: Any) -> None:
        """A name seen twice must mean the same thing twice (tar lets the later win; here nothing is guessed)."""
        earlier = self._files.get(name) or self._links.get(name)
        if earlier is not None and (earlier.sha256 if isinstance(earlier, _Staged) else earlier) != \
                (value.sha256 if isinstance(value, _Staged) else value):
            raise ArchiveError(f"the archive has two different entries named {clip(name)!r}")
        entries.setdefault(name, value)

    def _write_staged(self, source: IO[bytes], size: int) -> _Staged:
        path = Path(self.store.root, "ingest", f"{self._prefix}-{len(self._created)}")
        self._created.append(path)
        hasher, left = hashlib.sha256(), size
        with open(path, "xb") as staged:
            while left:
                chunk = source.read(min(CHUNK, left))
                if not chunk:
                    raise ArchiveError("the archive ends in the middle of a file")
                hasher.update(chunk)
                staged.write(chunk)
                left -= len(chunk)
        return _Staged(path, size, hasher.hexdigest())

    def _file(self, path: str) -> _Staged:
        name = _member_name(path)
        for _ in range(MAX_LINK_HOPS):
            if name in self._files:
                return self._files[name]
            if name not in self._links:
                break
            name = self._links[name]
        raise ArchiveError(f"the archive has no file {clip(path)!r}")

    def _has(self, name: str) -> bool:
        return name in self._files or name in self._links

    def _json(self, path: str, kind: type) -> Any:
        staged = self._file(path)
        return _parse_json(staged, clip(path), kind)

    # parsing

    def _parse(self) -> list[LoadedImage]:
        if self._has("index.json"):
            images = self._oci_images()
        elif self._has("manifest.json"):
            images = self._docker_images()
        else:
            raise ArchiveError("not an image archive: it has neither manifest.json nor index.json")
        if not images:
            raise ArchiveError("the archive holds no image")
        return images

    def _oci_images(self) -> list[LoadedImage]:
        index = self._manifest(self._file("index.json"), "index.json", mt.OCI_INDEX)
        repo_tags = self._repo_tags_by_config() if self._has("manifest.json") else {}
        found: dict[str, LoadedImage] = {}
        for entry in index.manifests:
            manifest = self._add_tree(entry.media_type, entry.digest, entry.size, 0)
            image_id = manifest.config.digest if manifest.config else entry.digest
            names = repo_tags.get(image_id) or _annotated_names(entry.annotations)
            earlier = found.get(str(entry.digest))
            descriptor = {"mediaType": entry.media_type, "digest": str(entry.digest), "size": entry.size}
            found[str(entry.digest)] = LoadedImage(
                descriptor, tuple(dict.fromkeys((*earlier.names, *names) if earlier else names)), image_id)
        return list(found.values())

    def _repo_tags_by_config(self) -> dict[Digest, tuple[str, ...]]:
        """manifest.json's names of each config in the archive (how Docker 25 archives name images)."""
        found: dict[Digest, tuple[str, ...]] = {}
        for entry in _docker_entries(self._json("manifest.json", list)):
            config = Digest("sha256", self._file(entry["Config"]).sha256)
            found[config] = tuple(dict.fromkeys((*found.get(config, ()), *(entry.get("RepoTags") or []))))
        return found

    def _add_tree(self, media_type: str, digest: Digest, size: int, depth: int) -> Manifest:
        """Check a manifest or index and everything below it, and note their blobs for the commit."""
        if depth > MAX_DEPTH:
            raise ArchiveError(f"indexes nest deeper than {MAX_DEPTH} levels")
        staged = self._blob(digest, size)
        manifest = self._manifest(staged, str(digest), media_type)
        if manifest.is_index:
            for child in manifest.manifests:
                self._add_tree(child.media_type, child.digest, child.size, depth + 1)
        elif manifest.config is not None:
            config = _parse_json(self._blob(manifest.config.digest, manifest.config.size), "config", dict)
            diff_ids = _diff_ids(config, str(manifest.config.digest))
            for number, layer in enumerate(manifest.layers):
                if mt.is_non_distributable(layer.media_type) and self._missing(layer.digest):
                    continue
                self._blob(layer.digest, layer.size)
                self._contents.layers.add(layer.digest)
                uncompressed = layer.media_type in (mt.OCI_LAYER, _DOCKER_TAR)
                if uncompressed and (number >= len(diff_ids) or diff_ids[number] != layer.digest):
                    raise ArchiveError(f"layer {layer.digest} is not the diff_id its config names")
        self._contents.blobs[digest] = self._contents.blobs.pop(digest)  # after its children
        return manifest

    def _missing(self, digest: Digest) -> bool:
        try:
            self._file(blob_member(digest))
        except ArchiveError:
            return True
        return False

    def _blob(self, digest: Digest, size: int) -> _Staged:
        staged = self._file(blob_member(digest))
        if staged.size != size:
            raise ArchiveError(f"blob {digest} has {staged.size} bytes, not the {size} its descriptor says")
        actual = staged.sha256 if digest.algorithm == "sha256" else hash_file(staged.path, digest.algorithm)
        if actual != digest.encoded:
            raise ArchiveError(f"blob {digest} does not match its digest")
        self._contents.blobs.setdefault(digest, staged)
        return staged

    def _manifest(self, staged: _Staged, what: str, media_type: str) -> Manifest:
        if staged.size > MAX_JSON:
            raise ArchiveError(f"{what} is larger than {MAX_JSON >> 20} MiB")
        try:
            return parse_manifest(staged.path.read_bytes(), media_type)
        except InvalidManifest as exc:
            raise ArchiveError(f"{what} is not a valid manifest: {one_line(exc)}") from None

    def _docker_images(self) -> list[LoadedImage]:
        """Docker 20.10's archive: manifest.json, <config>.json, <id>/layer.tar (uncompressed diffs)."""
        return [self._docker_image(entry) for entry in _docker_entries(self._json("manifest.json", list))]

    def _docker_image(self, entry: dict[str, Any]) -> LoadedImage:
        staged = self._file(entry["Config"])
        named = _HEX_NAME.fullmatch(entry["Config"])
        if named and named.group(1) != staged.sha256:
            raise ArchiveError(f"config {clip(entry['Config'])!r} does not match its digest")
        config_digest = Digest("sha256", staged.sha256)
        diff_ids = _diff_ids(_parse_json(staged, "config", dict), str(config_digest))
        if len(diff_ids) != len(entry["Layers"]):
            raise ArchiveError(f"config {config_digest} names {len(diff_ids)} layers, manifest.json "
                               f"{len(entry['Layers'])}")
        self._contents.blobs.setdefault(config_digest, staged)
        layers = [self._docker_layer(path, diff_id) for path, diff_id in zip(entry["Layers"], diff_ids, strict=True)]
        body = json_bytes({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                            "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config_digest),
                                       "size": staged.size},
                            "layers": layers})
        digest = Digest.of(body)
        self._contents.generated[digest] = body
        descriptor = {"mediaType": mt.OCI_MANIFEST, "digest": str(digest), "size": len(body)}
        return LoadedImage(descriptor, tuple(entry.get("RepoTags") or ()), config_digest)

    def _docker_layer(self, path: str, diff_id: Digest) -> dict[str, Any]:
        """A layer file: a plain tar (its digest is its diff_id) or, as Docker also loads, a gzipped one."""
        staged = self._file(path)
        with open(staged.path, "rb") as f:
            magic = f.read(6)
        if magic.startswith(_GZIP):
            media_type, uncompressed = mt.OCI_LAYER_GZIP, _gunzip_sha256(staged.path, path)
        elif magic.startswith((_ZSTD, _BZIP2, _XZ)):
            raise ArchiveError(f"layer {clip(path)!r} is compressed with zstd, bzip2 or xz: not supported")
        else:
            media_type, uncompressed = mt.OCI_LAYER, staged.sha256
        if diff_id.algorithm != "sha256" or uncompressed != diff_id.encoded:
            raise ArchiveError(f"layer {clip(path)!r} does not match the diff_id {diff_id} its config names")
        digest = Digest("sha256", staged.sha256)
        self._contents.blobs.setdefault(digest, staged)
        self._contents.layers.add(digest)
        return {"mediaType": media_type, "digest": str(digest), "size": staged.size}

    # committing

    def commit(self, on_layer: Callable[[Digest, int], None] | None = None) -> None:
        """Copy every blob into the store through its verifying writer (layers and configs before manifests)."""
        for digest, staged in self._contents.blobs.items():
            if self._ingest(digest, staged) and on_layer and digest in self._contents.layers:
                on_layer(digest, staged.size)
        for body in self._contents.generated.values():
            self.store.put_blob(body)

    def _ingest(self, digest: Digest, staged: _Staged, wait_seconds: float = 600) -> bool:
        deadline = time.monotonic() + wait_seconds
        while not self.store.has_blob(digest):
            try:
                with self.store.ingest(digest, staged.size) as writer, open(staged.path, "rb") as source:
                    writer.restart()
                    for chunk in iter(lambda: source.read(CHUNK), b""):
                        writer.write(chunk)
                    writer.commit()
                return True
            except BlobBusy:  # another process writes the same blob: once it is done, it is there
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        return False


_DOCKER_TAR = "application/vnd.docker.image.rootfs.diff.tar"


class _BoundedTarInfo(tarfile.TarInfo):
    """Refuses the extended headers tarfile would read into memory whole when they are too big."""

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE, tarfile.GNUTYPE_LONGNAME,
                         tarfile.GNUTYPE_LONGLINK) and self.size > MAX_HEADER:
            raise ArchiveError(f"the archive has an extended header of {self.size} bytes")
        if self.type == tarfile.XGLTYPE:
            count = getattr(tar, "_berth_global_headers", 0) + 1
            if count > MAX_GLOBAL_HEADERS:
                raise ArchiveError("the archive has too many global pax headers")
            tar._berth_global_headers = count  # type: ignore[attr-defined]
        return super()._proc_member(tar)  # type: ignore[misc]


def _member_name(name: str) -> str:
    """An archive path made relative and plain; a name that would leave the archive's root is refused."""
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or name.startswith("/") or ".." in parts or "\0" in name:
        raise ArchiveError(f"archive path {clip(name)!r} points outside the archive")
    return "/".join(parts)


def _link_target(name: str, target: str) -> str:
    """Where a symlink inside the archive points, as an archive path; outside the archive is refused."""
    parts = name.split("/")[:-1]
    if target.startswith("/"):
        raise ArchiveError(f"symlink {clip(name)!r} points outside the archive (to {clip(target)!r})")
    for part in target.split("/"):
        if part == "..":
            if not parts:
                raise ArchiveError(f"symlink {clip(name)!r} points outside the archive (to {clip(target)!r})")
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return _member_name("/".join(parts))


def _docker_entries(doc: list[Any]) -> list[dict[str, Any]]:
    for entry in doc:
        if not (isinstance(entry, dict) and isinstance(entry.get("Config"), str)
                and isinstance(entry.get("Layers"), list) and all(isinstance(x, str) for x in entry["Layers"])
                and isinstance(entry.get("RepoTags") or [], list)
                and all(isinstance(x, str) for x in entry.get("RepoTags") or [])):
            raise ArchiveError("manifest.json is not a list of {Config, RepoTags, Layers} entries")
    return doc


def _annotated_names(annotations: dict[str, str]) -> tuple[str, ...]:
    """An index.json entry's name: containerd's full name, else an OCI ref name that is one (not a bare tag)."""
    if annotations.get(CONTAINERD_NAME):
        return (annotations[CONTAINERD_NAME],)
    ref_name = annotations.get(REF_NAME, "")
    return (ref_name,) if "/" in ref_name or ":" in ref_name else ()


def _diff_ids(config: dict[str, Any], what: str) -> list[Digest]:
    rootfs = config.get("rootfs")
    found = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(found, list) or not all(isinstance(d, str) for d in found):
        raise ArchiveError(f"config {what} has no rootfs.diff_ids")
    try:
        return [Digest.parse(d) for d in found]
    except InvalidDigest as exc:
        raise ArchiveError(f"config {what}: {exc}") from None


def _parse_json(staged: _Staged, what: str, kind: type) -> Any:
    if staged.size > MAX_JSON:
        raise ArchiveError(f"{what} is larger than {MAX_JSON >> 20} MiB")
    try:
        doc = json.loads(staged.path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ArchiveError(f"{what} is not valid JSON") from None
    if not isinstance(doc, kind):
        raise ArchiveError(f"{what} is not a JSON {'list' if kind is list else 'object'}")
    return doc


def _gunzip_sha256(path: Path, what: str) -> str:
    hasher = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                hasher.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveError(f"layer {clip(what)!r} is not valid gzip: {one_line(exc)}") from None
    return hasher.hexdigest()
