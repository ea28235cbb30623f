"""`-u name|uid[:group|gid]` resolved in the image's /etc/passwd and /etc/group, as runc's libcontainer/user does.

The files are read from the mounted root filesystem through openat2 RESOLVE_IN_ROOT: an image whose
/etc/passwd is a symlink to a host file reads its own root's file, never the host's.
"""

from __future__ import annotations

import os
from collections import namedtuple

from . import kernel

MAX_FILE = 4 << 20


class UnknownUser(Exception):
    """The user or group is in neither the image's files nor a number; the message is docker's."""


class ExecUser(namedtuple("ExecUser", "uid gid additional_gids home")):  # not a dataclass: see OciRuntime
    __slots__ = ()
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str


def resolve_user(rootfs: str | os.PathLike[str], spec: str) -> ExecUser:
    """The uid, gid, supplementary groups and home of `spec` ("" is root) inside `rootfs`."""
    user, _, group = spec.partition(":")
    passwd = _entries(rootfs, "/etc/passwd")
    uid, gid, home, name = 0, 0, "/", "root"
    if user:
        found = next((e for e in passwd if e[0] == user), None) or \
            (next((e for e in passwd if e[2] == user), None) if user.isdigit() else None)
        if found is None and not user.isdigit():
            raise UnknownUser(f"unable to find user {user}: no matching entries in passwd file")
        if found is not None:
            name, uid, gid, home = found[0], int(found[2]), _number(found[3]), found[5] or "/"
        else:
            name, uid = "", int(user)
    else:
        root = next((e for e in passwd if e[2] == "0"), None)
        home = root[5] if root and root[5] else "/"
    groups = _entries(rootfs, "/etc/group")
    if group:
        found = next((e for e in groups if e[0] == group), None) or \
            (next((e for e in groups if e[2] == group), None) if group.isdigit() else None)
        if found is None and not group.isdigit():
            raise UnknownUser(f"unable to find group {group}: no matching entries in group file")
        gid = int(found[2]) if found is not None else int(group)
    extra = tuple(dict.fromkeys(_number(e[2]) for e in groups
                                if name and len(e) > 3 and name in e[3].split(",") and _number(e[2]) != gid))
    return ExecUser(uid, gid, extra, home)


def _entries(rootfs: str | os.PathLike[str], path: str) -> list[list[str]]:
    """The colon-separated lines of a file in the image (none if it is missing or unreadable)."""
    try:
        fd = kernel.open_in_root(rootfs, path)
    except OSError:
        return []
    with os.fdopen(fd, "rb") as f:
        text = f.read(MAX_FILE).decode("utf-8", "replace")
    rows = []
    for line in text.splitlines():
        fields = line.strip().split(":")
        if line.strip() and not line.startswith("#") and len(fields) >= 3:
            rows.append(fields + [""] * (7 - len(fields)))
    return rows


def _number(text: str) -> int:
    return int(text) if text.isdigit() else 0
