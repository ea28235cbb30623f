"""Small files read and written whole. JSON records are replaced whole: a reader sees the old file or the
new one, never half of one. Paths are strings (see runtime/image_store.py)."""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any


def read_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def read_or_empty(path: str) -> str:
    """The file's text, or "" when it cannot be read (a host file berth copies, which may be missing)."""
    try:
        return read_text(path)
    except OSError:
        return ""


def write_text(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def replace_json(path: str | os.PathLike[str], doc: Any) -> None:
    """Write `doc` beside `path` and rename it over `path` (atomic within a directory). Compact, without
    indent: only then does json use its C encoder (a container's record is written several times a run)."""
    directory, name = os.path.split(os.fspath(path))
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    write_text(temporary, json.dumps(doc, separators=(",", ":")))
    os.replace(temporary, path)
