"""The build cache: what each step made, keyed by the image it started from, the step as written (variables
expanded) and, for COPY and ADD, a digest of the files it copies; the classic builder's rules.

An entry is the resulting image state (config and layer descriptors) in `<root>/<key>.json`. Its blobs live
in the image store, which may collect them once no image uses them: an entry whose layers are gone is a
miss, not an error.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from registry.oci.digest import Digest

from ..commit import ImageState
from ..files import replace_json
from ..image_store import ImageStore


def state_digest(state: ImageState) -> str:
    """What identifies a step's starting point: its config and layers, canonically."""
    return hashlib.sha256(json.dumps([state.config, state.layers], sort_keys=True).encode()).hexdigest()


class BuildCache:
    def __init__(self, root: Path, store: ImageStore) -> None:
        self.root, self.store = root, store

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

    def put(self, key: str, state: ImageState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        replace_json(self.root / f"{key}.json", {"config": state.config, "layers": state.layers})
