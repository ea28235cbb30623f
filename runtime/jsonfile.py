"""JSON records replaced whole: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
from pathlib import Path

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any


def replace_json(path: Path, doc: Any) -> None:
    """Write `doc` beside `path` and rename it over `path` (atomic within a directory). Compact, without
    indent: only then does json use its C encoder (a container's record is written several times a run)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(doc, separators=(",", ":")))
    os.replace(temporary, path)
