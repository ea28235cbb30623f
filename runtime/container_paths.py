"""Paths inside a container, seen from the host: resolved as the container would resolve them, never leading out.

A container's files are hostile input: a symlink it made (`/up -> ../../../..` or `/etc -> /`) must mean the
same thing to berth on the host as inside the container, where `/` is its root. `join_in_root` walks a path a
component at a time, reading each symlink and resolving it against the container's root (the algorithm of
cyphar/filepath-securejoin, which docker cp and runc use). Volumes and bind mounts are not in the root
filesystem on the host: `host_path` sends a path under one of the container's mount points to its source.
"""

from __future__ import annotations

import os
import posixpath
import stat

from .containers import ContainerError

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from typing import Any

MAX_LINKS = 40  # the kernel's own limit (ELOOP)


def join_in_root(root: str | os.PathLike[str], path: str, follow_last: bool = True) -> str:
    """`path` (absolute inside the container) under `root`, symlinks resolved inside `root`; a missing component
    and whatever follows it are joined as written. `follow_last=False` keeps a final symlink itself."""
    pending = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            mode = os.lstat(candidate).st_mode
        except (FileNotFoundError, NotADirectoryError):
            mode = 0
        if not stat.S_ISLNK(mode) or (not pending and not follow_last):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_LINKS:
            raise ContainerError(f"too many levels of symbolic links in {path}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        pending = [p for p in target.split("/") if p not in ("", ".")] + pending
    return os.path.join(root, *resolved)


def mount_for(mounts: list[dict[str, Any]], path: str) -> tuple[dict[str, Any] | None, str]:
    """The mount (of docker's inspect `Mounts`) holding the container path `path`, the deepest one, and the
    rest of the path below its destination; (None, path) for the root filesystem."""
    clean = posixpath.normpath("/" + path.lstrip("/"))  # (POSIX keeps a leading "//")
    best: dict[str, Any] | None = None
    for mount in mounts:
        destination = posixpath.normpath(mount["Destination"])
        inside = clean == destination or clean.startswith(destination.rstrip("/") + "/")
        if inside and (best is None or len(destination) > len(best["Destination"])):
            best = mount
    if best is None:
        return None, clean
    return best, clean[len(posixpath.normpath(best["Destination"])):] or "/"


def host_path(rootfs: str | os.PathLike[str], mounts: list[dict[str, Any]], path: str, follow_last: bool = True) -> str:
    """Where the container path `path` is on the host: in a volume or bind source when it lies under one of
    `mounts` (by its words, before symlinks: a link into a volume is followed within the root filesystem)."""
    mount, rest = mount_for(mounts, path)
    if mount is None:
        return join_in_root(rootfs, path, follow_last)
    return join_in_root(mount["Source"], rest, follow_last)
