"""A container's overlay upper directory as an OCI layer tar: what `commit` and each build step store.

The upper directory holds exactly what the container changed, in overlayfs' words; a layer says the same in
the image spec's (image-spec layer.md, "Whiteouts"): a 0/0 character device NAME (something deleted) becomes
an empty file `.wh.NAME`, a directory with trusted.overlay.opaque=y (its lower contents hidden) gets an
entry `.wh..wh..opq`. Owners, modes, times, symlinks, hard links (within the layer) and the xattrs a layer
may carry (file capabilities, user.*) are kept; overlayfs' own trusted.* metadata is not the image's.

The runtime's mount points (/proc, /sys, /dev, /etc/hosts...) appear in the upper directory as empty
directories and files when the image lacks them; docker keeps them out of its diff (its "init layer"),
and so does this.

`changes` reads the same upper directory as `docker diff` shows it (moby pkg/archive changes.go, OverlayChanges).
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from typing import BinaryIO

from .errors import RootfsError
from .unpack import OPAQUE, OPAQUE_XATTR, WHITEOUT, XATTR_PREFIXES

RUNTIME_MOUNT_POINTS = frozenset({"dev", "proc", "sys", "etc/hostname", "etc/hosts", "etc/resolv.conf"})
UNREADABLE_XATTRS = frozenset({"trusted.overlay.metacopy", "trusted.overlay.redirect"})


def write_diff(upper: str | os.PathLike[str], out: BinaryIO) -> None:
    """Write the layer tar of the upper directory `upper` (missing: an empty layer) to `out`, in name order."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        if os.path.isdir(upper):
            top = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                _Diff(tar).add_tree(top, "")
            finally:
                os.close(top)


class _Diff:
    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.links: dict[tuple[int, int], str] = {}  # (device, inode) -> the name first written for it

    def add_tree(self, directory: int, prefix: str) -> None:
        """The entries of the open directory `directory`, each reached through its parent's descriptor and
        never through a symlink: commit does not pause a running container, which could otherwise turn a file
        or directory into a symlink to a host path between our look and our read, and have the host's files
        read into its image. What vanishes or changes kind meanwhile is left out, as if read a moment later."""
        with os.scandir(directory) as found:
            entries = sorted(found, key=lambda e: e.name)
        for entry in entries:
            name = prefix + entry.name
            try:
                info = entry.stat(follow_symlinks=False)
                if name in RUNTIME_MOUNT_POINTS and _empty(directory, entry.name, info):
                    continue
                if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                    self._whiteout(f"{prefix}{WHITEOUT}{entry.name}", info)
                    continue
                self._add(directory, entry.name, name, info)
                if stat.S_ISDIR(info.st_mode):
                    if _xattr(_at(directory, entry.name), OPAQUE_XATTR) == b"y":
                        self._whiteout(f"{name}/{OPAQUE}", info)
                    child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                    dir_fd=directory)
                    try:
                        self.add_tree(child, name + "/")
                    finally:
                        os.close(child)
            except (FileNotFoundError, NotADirectoryError, _Changed):
                continue  # removed or replaced while we read it
            except OSError as exc:
                if exc.errno != errno.ELOOP:  # a directory or file turned into a symlink meanwhile
                    raise

    def _add(self, directory: int, entry: str, name: str, info: os.stat_result) -> None:
        path = _at(directory, entry)
        member = tarfile.TarInfo(name)
        member.mode, member.uid, member.gid = stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid
        member.mtime = int(info.st_mtime)
        member.pax_headers = {f"SCHILY.xattr.{key}": value for key, value in _xattrs(path).items()}
        kind = stat.S_IFMT(info.st_mode)
        if kind == stat.S_IFREG and info.st_nlink > 1:
            first = self.links.setdefault((info.st_dev, info.st_ino), name)
            if first != name:
                member.type, member.linkname = tarfile.LNKTYPE, first
                self.tar.addfile(member)
                return
        if kind == stat.S_IFDIR:
            member.type = tarfile.DIRTYPE
            self.tar.addfile(member)
        elif kind == stat.S_IFLNK:
            member.type, member.linkname = tarfile.SYMTYPE, os.readlink(entry, dir_fd=directory)
            self.tar.addfile(member)
        elif kind == stat.S_IFREG:  # O_NONBLOCK: a FIFO put in its place meanwhile must not hang us
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory)
            with os.fdopen(fd, "rb") as source:
                opened = os.fstat(fd)
                if not stat.S_ISREG(opened.st_mode):
                    raise _Changed(name)
                member.size = opened.st_size
                self.tar.addfile(member, source)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            member.type = tarfile.CHRTYPE if kind == stat.S_IFCHR else tarfile.BLKTYPE
            member.devmajor, member.devminor = os.major(info.st_rdev), os.minor(info.st_rdev)
            self.tar.addfile(member)
        elif kind == stat.S_IFIFO:
            member.type = tarfile.FIFOTYPE
            self.tar.addfile(member)
        # sockets have no tar form: left out, as docker does

    def _whiteout(self, name: str, info: os.stat_result) -> None:
        member = tarfile.TarInfo(name)
        member.mode, member.mtime = 0o600, int(info.st_mtime)
        self.tar.addfile(member)


def changes(upper: str | os.PathLike[str], layers: list[str]) -> list[tuple[str, str]]:
    """docker diff's list, ("A"|"C"|"D", "/path"), in its order: each directory's entries by name, a directory
    before what is in it. `layers` are the image's (bottom first): a path found in them was changed ("C"), not
    added. A whiteout is a deletion, and so is an opaque directory (moby 20.10 reports it "D", then its contents
    as added); a directory the image has is "C" when its owner or mode changed or something under it did. The
    upper directory is read through descriptors, never through a symlink (as `write_diff`)."""
    if not os.path.isdir(upper):
        return []
    top = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _changes_in(top, "/", list(reversed(layers)))
    finally:
        os.close(top)


def _changes_in(directory: int, prefix: str, lower: list[str]) -> list[tuple[str, str]]:
    """The changes under the open `directory` (its path `prefix`); `lower`: the layers it is seen through,
    top first (none below an opaque directory)."""
    found: list[tuple[str, str]] = []
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            path = prefix + entry.name
            try:
                info = entry.stat(follow_symlinks=False)
                if path[1:] in RUNTIME_MOUNT_POINTS and _empty(directory, entry.name, info):
                    continue
                if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                    found.append(("D", path))
                    continue
                below = _lower_stat(lower, path)
                if not stat.S_ISDIR(info.st_mode):
                    found.append(("A" if below is None else "C", path))
                    continue
                opaque = _xattr(_at(directory, entry.name), OPAQUE_XATTR) == b"y"
                child = os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                dir_fd=directory)
                try:
                    inside = _changes_in(child, path + "/", [] if opaque else lower)
                finally:
                    os.close(child)
            except (FileNotFoundError, NotADirectoryError):
                continue  # removed or replaced while we read it
            except OSError as exc:
                if exc.errno != errno.ELOOP:  # a directory turned into a symlink meanwhile
                    raise
                continue
            if opaque and below is not None:
                found.append(("D", path))
            elif below is None or not stat.S_ISDIR(below.st_mode):
                found.append(("A", path))
            elif inside or (info.st_mode, info.st_uid, info.st_gid) != (below.st_mode, below.st_uid, below.st_gid):
                found.append(("C", path))  # not for its time alone: making a mount point (/etc/hosts) sets it
            found += inside
    return found


def _lower_stat(layers: list[str], path: str) -> os.stat_result | None:
    """What the image has at `path` as overlayfs merges `layers` (top first), or None: each component looked up
    with lstat, never through a symlink; a whiteout or a non-directory on the way hides what lies below, and so
    does an opaque directory."""
    parts = path.strip("/").split("/")
    for layer in layers:
        current, hides_below = layer, False
        for depth, part in enumerate(parts):
            current = f"{current}/{part}"
            try:
                info = os.lstat(current)
            except (FileNotFoundError, NotADirectoryError):
                if hides_below:
                    return None
                break  # not in this layer: perhaps in one below
            if stat.S_ISCHR(info.st_mode) and info.st_rdev == 0:
                return None
            if depth == len(parts) - 1:
                return info
            if not stat.S_ISDIR(info.st_mode):
                return None
            hides_below = hides_below or _xattr(current, OPAQUE_XATTR) == b"y"
    return None


class _Changed(Exception):
    """An entry turned into something else while it was being read."""


def _at(directory: int, entry: str) -> str:
    """A path to `entry` in the open `directory` for calls that take no dir_fd (xattrs, with follow_symlinks
    False): the kernel resolves /proc/self/fd/N to that very directory, whatever its path has become."""
    return f"/proc/self/fd/{directory}/{entry}"


def _empty(directory: int, entry: str, info: os.stat_result) -> bool:
    if stat.S_ISDIR(info.st_mode):
        fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        try:
            return not os.listdir(fd)
        finally:
            os.close(fd)
    return stat.S_ISREG(info.st_mode) and info.st_size == 0


def _xattr(path: str, name: str) -> bytes | None:
    try:
        return os.getxattr(path, name, follow_symlinks=False)
    except OSError:
        return None


def _xattrs(path: str) -> dict[str, str]:
    """The xattrs a layer may carry, as PAX records (SCHILY's form: the raw value as a string)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    unreadable = UNREADABLE_XATTRS.intersection(names)
    if unreadable:
        # A metadata-only copy-up or a renamed directory: what it stands for lives in a lower layer, and
        # reading it as it is would store a wrong layer. Berth's mounts leave these features off.
        raise RootfsError(f"cannot turn {path} into a layer: overlayfs marked it {sorted(unreadable)[0]} "
                          "(metacopy or redirect_dir is on for this mount)")
    found = {}
    for name in names:
        value = _xattr(path, name) if name.startswith(XATTR_PREFIXES) else None
        if value is not None:
            found[name] = value.decode("utf-8", "surrogateescape")
    return found
