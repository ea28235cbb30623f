"""The build cache: what each step made, keyed by the image it started from, the step as written (variables
expanded) and, for COPY and ADD, a digest of the files it copies; the classic builder's rules.

An entry is the resulting image state (config and layer descriptors) in `<root>/<key>.json`. Its blobs live
in the image store, which may collect them once no image uses them: an entry whose layers are gone is a
miss, not an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from registry.oci.digest import Digest

from ..commit import ImageState
from ..files import replace_json
from ..image_store import ImageStore


def state_digest(state: ImageState) -> str:
    """What identifies a step's starting point: its config and layers, canonically."""
    return hashlib.sha256(json.dumps([state.config, state.layers], sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """One step's record, as `system df` and `system prune` see it."""

    path: Path
    size: int  # the record's bytes and those of the layers only the cache still reaches
    layers: list[Digest]

    @property
    def key(self) -> str:
        return self.path.stem


class BuildCache:
    DIRECTORY = "build-cache"  # in berth's runtime home, beside containers/ and layers/

    def __init__(self, root: Path, store: ImageStore) -> None:
        self.root, self.store = root, store

    @classmethod
    def beside(cls, home: str | os.PathLike[str], store: ImageStore) -> BuildCache:
        """The cache of the runtime home `home` (`<home>/build-cache`)."""
        return cls(Path(home, cls.DIRECTORY), store)

    @staticmethod
    def key(parent: ImageState, step: str, content: str = "") -> str:
        return hashlib.sha256(f"{state_digest(parent)}\0{step}\0{content}".encode()).hexdigest()

    def get(self, key: str) -> ImageState | None:
        try:
            doc = json.loads((self.root / f"{key}.json").read_text())
            state = ImageState(doc["config"], doc["layers"])
            if all(self.store.has_blob(Digest.parse(layer["digest"])) for layer in state.layers):
                return state
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def entries(self) -> list[CacheEntry]:
        """Every record, oldest first."""
        paths = sorted(self.root.glob("*.json"), key=_mtime) if self.root.is_dir() else []
        reached = self.store.reachable() if paths else set()
        found = []
        for path in paths:
            layers = _layers(path)
            own = sum(_blob_size(self.store, d) for d in layers if d not in reached)
            with contextlib.suppress(OSError):
                found.append(CacheEntry(path, path.stat().st_size + own, layers))
        return found

    def usable(self, entry: CacheEntry) -> bool:
        """Whether a build could still use the entry (every layer of it in the store: `get` finds it)."""
        return all(self.store.has_blob(d) for d in entry.layers)

    def remove(self, entry: CacheEntry) -> bool:
        """Forget the entry; False if another berth removed it first."""
        try:
            entry.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def put(self, key: str, state: ImageState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        replace_json(self.root / f"{key}.json", {"config": state.config, "layers": state.layers})


def _layers(path: Path) -> list[Digest]:
    try:
        return [Digest.parse(layer["digest"]) for layer in json.loads(path.read_text())["layers"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _blob_size(store: ImageStore, digest: Digest) -> int:
    try:
        return os.stat(store.blob_path(digest)).st_size
    except OSError:
        return 0


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
