"""Finishing removals a crash interrupted.

A container is removed by renaming its directory to `.removing-<id>` (it leaves every listing at once), then
runc's state is deleted, its root filesystem unmounted, its network released and its files deleted. A crash in
between (the supervisor of a `--rm` container killed while it cleans up) leaves a directory no command shows,
still mounted and still known to runc: deleting its files alone would fail on the mount and leave both.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil

from .containers import Container
from .lifecycle import RuntimeHome, release
from .rootfs import RootfsError

GRAVEYARD = ".removing-"


def finish_removals(home: RuntimeHome, runtime: str | None = None) -> None:
    """Complete every interrupted removal under `home` (safe beside one still in progress: each step is one
    that finds nothing to do when already done)."""
    store = home.containers()
    if not os.path.isdir(store.root):
        return
    for name in os.listdir(store.root):
        if not name.startswith(GRAVEYARD):
            continue
        container_id, graveyard = name.removeprefix(GRAVEYARD), f"{store.root}/{name}"
        try:
            with open(f"{graveyard}/container.json", "rb") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            doc = {"Id": container_id, "HostConfig": {}}  # its record already deleted: the rest still counts
        # Without its record the container is not bridged (its lease is stale anyway) and runs on `runtime`.
        with contextlib.suppress(RootfsError):
            release(home, Container(graveyard, doc), runtime, lazy=True)
        shutil.rmtree(graveyard, ignore_errors=True)
