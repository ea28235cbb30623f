"""The local image store: an OCI image layout (oci-layout, index.json, blobs/<alg>/<hex>).

Modelled on umoci's CAS engine: blobs are content-addressed and verified as they are written and when
they are read; references are index.json entries named by the `org.opencontainers.image.ref.name`
annotation, holding an image's full name (host/namespace/repo:tag). So skopeo and umoci read what berth
stores (`oci:$BERTH_HOME/images:<name>`), and berth reads what they write.

Two berth processes may use one store at once. Blobs go through `ingest/` and appear by atomic rename.
Two file locks keep the rest safe: `.index.lock` (exclusive) around every read-modify-write of index.json,
and `.gc.lock`, held shared by a writer for as long as it adds blobs nothing references yet (a pull
before its manifest is tagged) and exclusively by garbage collection, which so never deletes them.

Paths are strings, as in every module `berth run` loads: pathlib (with the urllib.parse and ipaddress it
imports) would add 4 ms to a start-up whose goal is half of podman's.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections import namedtuple
from collections.abc import Iterator

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest, InvalidDigest

from .files import replace_json

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_VERSION = "1.0.0"


class StoreError(Exception):
    """The store is damaged or cannot do what was asked; the message says what, in one line."""


class BlobBusy(StoreError):
    """Another process is writing this blob right now."""


class Reference(namedtuple("Reference", "name descriptor")):  # not a dataclass: see Digest
    __slots__ = ()
    name: str
    descriptor: dict[str, Any]  # mediaType, digest, size (and annotations) of a manifest or index

    @property
    def digest(self) -> Digest:
        return Digest.parse(self.descriptor["digest"])


class ImageStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = root = os.fspath(root)
        for sub in ("blobs", "ingest"):
            os.makedirs(f"{root}/{sub}", exist_ok=True)
        if not os.path.exists(f"{root}/oci-layout"):
            replace_json(f"{root}/oci-layout", {"imageLayoutVersion": LAYOUT_VERSION})
        self.index_path = f"{root}/index.json"
        if not os.path.exists(self.index_path):
            with self._locked(".index.lock"):
                if not os.path.exists(self.index_path):
                    replace_json(self.index_path, {"schemaVersion": 2, "manifests": []})

    # -- locks -------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, name: str, shared: bool = False) -> Iterator[None]:
        with open(f"{self.root}/{name}", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold while adding blobs that nothing references yet, until they are referenced."""
        with self._locked(".gc.lock", shared=True):
            yield

    # -- blobs -------------------------------------------------------------------------------------

    def blob_path(self, digest: Digest) -> str:
        return f"{self.root}/blobs/{digest.algorithm}/{digest.encoded}"

    def has_blob(self, digest: Digest) -> bool:
        return os.path.isfile(self.blob_path(digest))

    def read_blob(self, digest: Digest, limit: int = 8 << 20) -> bytes:
        """A small blob (manifest, config), verified against its digest."""
        try:
            with open(self.blob_path(digest), "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the store") from None
        if len(data) > limit:
            raise StoreError(f"blob {digest} is larger than {limit} bytes")
        if Digest.of(data, digest.algorithm) != digest:
            raise StoreError(f"blob {digest} is corrupt: its content has another digest")
        return data

    def read_json(self, digest: Digest) -> dict[str, Any]:
        try:
            doc = json.loads(self.read_blob(digest))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise StoreError(f"blob {digest} is not JSON") from None
        if not isinstance(doc, dict):
            raise StoreError(f"blob {digest} is not a JSON object")
        return doc

    def open_blob(self, digest: Digest) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError:
            raise StoreError(f"blob {digest} is missing from the store") from None

    def ingest(self, digest: Digest, size: int | None = None) -> BlobIngest:
        """A writer for blob `digest`: resumes what an interrupted writer left, verifies at commit."""
        return BlobIngest(self, digest, size)

    def put_blob(self, data: bytes, algorithm: str = "sha256") -> Digest:
        digest = Digest.of(data, algorithm)
        for _ in range(600):  # another process writing the same small blob finishes in moments
            if self.has_blob(digest):
                return digest
            try:
                with self.ingest(digest, len(data)) as writer:
                    writer.restart()
                    writer.write(data)
                    writer.commit()
                return digest
            except BlobBusy:
                time.sleep(0.05)
        raise BlobBusy(f"blob {digest} stayed busy for 30 s")

    # -- references --------------------------------------------------------------------------------

    def _index(self) -> dict[str, Any]:
        try:
            with open(self.index_path, "rb") as f:
                index = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StoreError(f"{self.index_path} is unreadable: {exc}") from None
        if not isinstance(index, dict) or not isinstance(index.get("manifests", []), list):
            raise StoreError(f"{self.index_path} is not an image index")
        return index

    def references(self) -> list[Reference]:
        """Every named entry of index.json, in its order (unnamed entries are skopeo's by-digest copies)."""
        return [Reference(m["annotations"][REF_NAME], m) for m in self._index().get("manifests", [])
                if isinstance(m, dict) and isinstance(m.get("annotations"), dict) and REF_NAME in m["annotations"]]

    def resolve(self, name: str) -> Reference | None:
        return next((r for r in self.references() if r.name == name), None)

    def set_reference(self, name: str, descriptor: dict[str, Any]) -> None:
        """Point `name` at a manifest or index (replacing what it named)."""
        entry = {k: descriptor[k] for k in ("mediaType", "digest", "size")}
        entry["annotations"] = {**descriptor.get("annotations", {}), REF_NAME: name}
        with self._locked(".index.lock"):
            index = self._index()
            index["manifests"] = [m for m in index.get("manifests", []) if _name_of(m) != name] + [entry]
            replace_json(self.index_path, index)

    def remove_reference(self, name: str) -> bool:
        with self._locked(".index.lock"):
            index = self._index()
            kept = [m for m in index.get("manifests", []) if _name_of(m) != name]
            if len(kept) == len(index.get("manifests", [])):
                return False
            index["manifests"] = kept
            replace_json(self.index_path, index)
            return True

    # -- garbage collection ------------------------------------------------------------------------

    def reachable(self) -> set[Digest]:
        """Every blob a reference reaches: manifests, indexes, configs and layers present in the store."""
        seen: set[Digest] = set()
        pending = [Digest.parse(m["digest"]) for m in self._index().get("manifests", []) if "digest" in m]
        while pending:
            digest = pending.pop()
            if digest in seen:
                continue
            seen.add(digest)
            if not self.has_blob(digest):
                continue
            try:
                doc = self.read_json(digest)
            except StoreError:
                continue  # a layer, or something that is not a manifest
            children = [doc.get("config")] + list(doc.get("layers") or []) + list(doc.get("manifests") or [])
            if doc.get("mediaType") in mt.MANIFESTS or "config" in doc or "manifests" in doc:
                pending += [Digest.parse(c["digest"]) for c in children if isinstance(c, dict) and "digest" in c]
        return seen

    def stored_blobs(self) -> set[Digest]:
        """Every blob in blobs/<algorithm>/<encoded> (what is not named by a digest there is not ours)."""
        found = set()
        for algorithm in os.listdir(f"{self.root}/blobs"):
            for encoded in _listdir(f"{self.root}/blobs/{algorithm}"):
                try:
                    found.add(Digest.parse(f"{algorithm}:{encoded}"))
                except InvalidDigest:
                    continue
        return found

    def collect_garbage(self) -> tuple[int, int]:
        """Delete blobs nothing references (and stale ingests); returns (blobs deleted, bytes freed)."""
        with self._locked(".gc.lock"):
            keep = self.reachable()
            removed = freed = 0
            for digest in self.stored_blobs() - keep:
                path = self.blob_path(digest)
                freed += os.stat(path).st_size
                os.unlink(path)
                removed += 1
            for partial in os.listdir(f"{self.root}/ingest"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.root}/ingest/{partial}")
            return removed, freed


class BlobIngest:
    """Writes one blob into `ingest/`, hashing as it goes; `commit` verifies it and moves it into place.

    A partial file left by an interrupted writer is resumed: `offset` says how much is there already
    (hashed again on opening), so a download can continue with a Range request.
    """

    def __init__(self, store: ImageStore, digest: Digest, size: int | None) -> None:
        self.store, self.digest, self.size = store, digest, size
        self.path = f"{store.root}/ingest/{digest.algorithm}-{digest.encoded}"
        self._file: BinaryIO | None = None
        self._hasher = digest.hasher()
        self.offset = 0

    def __enter__(self) -> BlobIngest:
        while True:
            self._file = open(self.path, "a+b")  # noqa: SIM115 - closed in __exit__
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._file.close()
                raise BlobBusy(f"another process is writing blob {self.digest}") from None
            # The lock's holder may have committed (renamed the file into blobs/) between our open and
            # our lock: then what we hold is the finished blob, not the ingest file. Start again.
            try:
                if os.stat(self.path).st_ino == os.fstat(self._file.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            self._file.close()
        self._file.seek(0)
        for chunk in iter(lambda: self._file.read(1 << 20), b""):  # type: ignore[union-attr]
            self._hasher.update(chunk)
            self.offset += len(chunk)
        return self

    def restart(self) -> None:
        """Forget what an earlier writer left and start from byte 0."""
        assert self._file is not None
        self._file.truncate(0)
        self._hasher, self.offset = self.digest.hasher(), 0

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        self._file.write(chunk)
        self._hasher.update(chunk)
        self.offset += len(chunk)
        if self.size is not None and self.offset > self.size:
            raise StoreError(f"blob {self.digest} is larger than the {self.size} bytes announced")

    def commit(self) -> None:
        assert self._file is not None
        if self.size is not None and self.offset != self.size:
            raise StoreError(f"blob {self.digest} has {self.offset} bytes, not the {self.size} announced")
        if self._hasher.hexdigest() != self.digest.encoded:
            self.restart()
            raise StoreError(f"blob {self.digest} failed verification: the bytes received have another digest")
        self._file.flush()
        os.fsync(self._file.fileno())
        target = self.store.blob_path(self.digest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(self.path, target)

    def __exit__(self, *exc: object) -> None:
        assert self._file is not None
        self._file.close()


def _listdir(directory: str) -> list[str]:
    """The names in `directory`, or none if it is not one (a stray file in blobs/)."""
    try:
        return os.listdir(directory)
    except NotADirectoryError:
        return []


def _name_of(entry: Any) -> str | None:
    annotations = entry.get("annotations") if isinstance(entry, dict) else None
    return annotations.get(REF_NAME) if isinstance(annotations, dict) else None
