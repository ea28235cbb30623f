"""One layer tar into a directory that overlayfs can stack, without letting the tar write anywhere else.

tarfile parses; the writing is done here, because tarfile's extraction drops PAX xattrs (file capabilities)
and its safe filters strip setuid bits. Every path is walked from the layer's root with one directory fd per
component opened O_NOFOLLOW, so neither `..`, an absolute name, nor a symlink the layer itself planted (as an
entry or as a parent) can lead outside: such layers are refused. Device nodes are skipped (a layer has no
business carrying them; the runtime creates /dev), sparse entries refused, and every entry must fit the disk.

OCI whiteouts become overlayfs ones: `.wh.NAME` a 0/0 character device NAME, `.wh..wh..opq` the xattr
trusted.overlay.opaque=y on its directory (image-spec layer.md, "Whiteouts"; kernel overlayfs.rst).
"""

from __future__ import annotations

import base64
import os
import shutil
import stat
import tarfile
from typing import IO

from ..archive.common import ArchiveError
from ..archive.reader import _BoundedTarInfo
from .errors import LayerRefused, RootfsError

WHITEOUT, OPAQUE, AUFS_META = ".wh.", ".wh..wh..opq", ".wh..wh."
OPAQUE_XATTR = "trusted.overlay.opaque"
MAX_ENTRIES = 2_000_000
DISK_RESERVE = 64 << 20  # left free on the layer store's filesystem, whatever a layer says
COPY_CHUNK = 1 << 16  # tar's read and copy steps: as the decompressor's (see layers.CHUNK)
# Only these xattrs are restored: file capabilities and user data. trusted.* (overlayfs' own metadata among
# them) and security labels from an image are not the image's to set.
XATTR_PREFIXES = ("security.capability", "user.")
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def unpack(stream: IO[bytes], target: str | os.PathLike[str], whiteouts: bool = True) -> None:
    """Unpack the (decompressed) layer tar `stream` into the empty directory `target`. `whiteouts=False` for a
    tar of plain files (a build context): `.wh.` names are files there, as docker keeps them."""
    tree = _Tree(target, whiteouts)
    try:
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=_BoundedTarInfo, bufsize=COPY_CHUNK) as tar:
            for count, member in enumerate(tar, 1):
                if count > MAX_ENTRIES:
                    raise LayerRefused(f"the layer has more than {MAX_ENTRIES} entries")
                tree.add(tar, member)
        tree.finish()
    except (tarfile.TarError, ArchiveError, EOFError) as exc:
        raise RootfsError(f"the layer is not a valid tar: {exc}") from None
    finally:
        tree.close()


def member_parts(name: str) -> list[str]:
    """A tar name as path components inside the layer; absolute names are taken as relative (as tar does),
    `..` anywhere is refused."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts or "\0" in name:
        raise LayerRefused(f"the layer has an entry outside its root: {name[:200]!r}")
    return parts


class _Tree:
    """The layer's directory being filled, reached only through directory fds that never follow symlinks."""

    def __init__(self, root: str | os.PathLike[str], whiteouts: bool = True) -> None:
        self.root, self.whiteouts = root, whiteouts
        self.root_fd = os.open(root, _OPEN_DIR)
        self._parent: tuple[tuple[str, ...], int] | None = None  # the last parent opened, kept for the next
        self._dir_times: dict[tuple[str, ...], int] = {}
        self._budget = _free_bytes(root) - DISK_RESERVE

    def close(self) -> None:
        self._forget_parent()
        os.close(self.root_fd)

    def _forget_parent(self) -> None:
        if self._parent is not None:
            os.close(self._parent[1])
            self._parent = None

    def parent_fd(self, parts: tuple[str, ...]) -> int:
        """The directory `parts` (created 0755 where missing, as tar does), opened without following links."""
        if not parts:
            return self.root_fd
        if self._parent is not None and self._parent[0] == parts:
            return self._parent[1]
        self._forget_parent()
        fd = os.dup(self.root_fd)
        for part in parts:
            fd = _step(fd, part, "/".join(parts))  # closes the fd it is given, also when it fails
        self._parent = (parts, fd)
        return fd

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        parts = member_parts(member.name)
        if not parts:
            return  # the root itself: its owner and mode belong to the image's lowest layer, kept as created
        *dirs, base = parts
        if member.issparse() or member.type == tarfile.GNUTYPE_SPARSE:
            raise LayerRefused(f"the layer has a sparse entry: {member.name[:200]!r}")
        if member.ischr() or member.isblk() or member.type not in tarfile.SUPPORTED_TYPES:
            return  # device nodes and unknown kinds are dropped, never created
        parent = self.parent_fd(tuple(dirs))
        if self.whiteouts and base.startswith(WHITEOUT):
            self._whiteout(parent, base, member, tuple(parts))
            return
        if member.isdir():
            self._directory(parent, base, member, tuple(parts))
            return
        self._remove(parent, base, tuple(parts))
        if member.isreg():
            self._file(tar, member, parent, base)
        elif member.issym():
            os.symlink(member.linkname, base, dir_fd=parent)
            self._owner(base, parent, member, follow=False)
            os.utime(base, ns=(_ns(member), _ns(member)), dir_fd=parent, follow_symlinks=False)
        elif member.islnk():
            self._hardlink(member, tuple(dirs), base)
        elif member.isfifo():
            os.mkfifo(base, 0o600, dir_fd=parent)
            self._metadata_at(parent, base, member)

    def _whiteout(self, parent: int, base: str, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        """An OCI whiteout as overlayfs has it: `.wh..wh..opq` the opaque xattr, `.wh.NAME` a 0/0 device."""
        if base == OPAQUE:
            os.setxattr(parent, OPAQUE_XATTR, b"y")
            return
        if base.startswith(AUFS_META):
            return  # aufs' own bookkeeping (.wh..wh.plnk and friends), meaningless to overlayfs
        name = base[len(WHITEOUT):]
        if name in ("", ".", ".."):
            raise LayerRefused(f"the layer has a whiteout of no file: {member.name[:200]!r}")
        self._remove(parent, name, parts)
        os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)

    def _directory(self, parent: int, base: str, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        try:
            if not stat.S_ISDIR(os.stat(base, dir_fd=parent, follow_symlinks=False).st_mode):
                self._remove(parent, base, parts)
                os.mkdir(base, 0o700, dir_fd=parent)
        except FileNotFoundError:
            os.mkdir(base, 0o700, dir_fd=parent)
        fd = os.open(base, _OPEN_DIR, dir_fd=parent)
        try:
            self._metadata(fd, member)
        finally:
            os.close(fd)
        self._dir_times[parts] = _ns(member)  # set last: adding children changes a directory's mtime

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int, base: str) -> None:
        self._budget -= member.size
        if self._budget < 0:
            raise LayerRefused(f"the layer's entry {member.name[:200]!r} ({member.size} bytes) does not fit the "
                               "free space")
        fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                     dir_fd=parent)
        try:
            source = tar.extractfile(member)
            assert source is not None
            with os.fdopen(os.dup(fd), "wb") as out:
                shutil.copyfileobj(source, out, COPY_CHUNK)
            self._metadata(fd, member)
            os.utime(fd, ns=(_ns(member), _ns(member)))
        finally:
            os.close(fd)

    def _hardlink(self, member: tarfile.TarInfo, dirs: tuple[str, ...], base: str) -> None:
        target_parts = member_parts(member.linkname)
        if not target_parts:
            raise LayerRefused(f"hard link {member.name[:200]!r} has no target")
        target_parent = os.dup(self.parent_fd(tuple(target_parts[:-1])))  # the next call may close the cached fd
        try:
            os.link(target_parts[-1], base, src_dir_fd=target_parent, dst_dir_fd=self.parent_fd(dirs),
                    follow_symlinks=False)
        except FileNotFoundError:
            raise LayerRefused(f"hard link {member.name[:200]!r} points at {member.linkname[:200]!r}, which the "
                               "layer does not hold") from None
        finally:
            os.close(target_parent)

    def _remove(self, parent: int, name: str, parts: tuple[str, ...]) -> None:
        """A later entry replaces an earlier one of the same name (tar's rule)."""
        try:
            mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            if self._parent is not None and self._parent[0][:len(parts)] == parts:
                self._forget_parent()  # the cached directory is inside the one going
            shutil.rmtree(name, dir_fd=parent)
            self._dir_times = {k: v for k, v in self._dir_times.items() if k[:len(parts)] != parts}
        else:
            os.unlink(name, dir_fd=parent)

    def _owner(self, name: str, parent: int, member: tarfile.TarInfo, follow: bool) -> None:
        if os.geteuid() == 0:
            os.chown(name, member.uid, member.gid, dir_fd=parent, follow_symlinks=follow)

    def _metadata_at(self, parent: int, name: str, member: tarfile.TarInfo) -> None:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        try:
            path = f"/proc/self/fd/{fd}"  # a FIFO cannot be opened for its metadata without blocking
            if os.geteuid() == 0:
                os.chown(path, member.uid, member.gid)
            os.chmod(path, member.mode & 0o7777)
            os.utime(path, ns=(_ns(member), _ns(member)))
        finally:
            os.close(fd)

    def _metadata(self, fd: int, member: tarfile.TarInfo) -> None:
        """Owner, then mode (chown clears setuid bits), then xattrs (chown clears file capabilities)."""
        if os.geteuid() == 0:
            os.fchown(fd, member.uid, member.gid)
        os.fchmod(fd, member.mode & 0o7777)
        for name, value in _xattrs(member).items():
            try:
                os.setxattr(fd, name, value)
            except OSError as exc:
                raise RootfsError(f"cannot set xattr {name} on {member.name[:200]!r}: {exc.strerror}") from None

    def finish(self) -> None:
        """Directory mtimes, deepest first, now that nothing more is added to them."""
        self._forget_parent()
        for parts, mtime in sorted(self._dir_times.items(), key=lambda item: -len(item[0])):
            try:
                fd = self.parent_fd(parts)
            except (OSError, LayerRefused):
                continue
            os.utime(fd, ns=(mtime, mtime))
        self._forget_parent()


def _step(fd: int, part: str, whole: str) -> int:
    """Open (creating if missing) directory `part` under `fd`, closing `fd`; a symlink there is refused."""
    try:
        try:
            return os.open(part, _OPEN_DIR, dir_fd=fd)
        except FileNotFoundError:
            os.mkdir(part, 0o755, dir_fd=fd)
            return os.open(part, _OPEN_DIR, dir_fd=fd)
        except (NotADirectoryError, OSError) as exc:
            if exc.errno in (20, 40):  # ENOTDIR, ELOOP: a file or a symlink where a directory must be
                kind = "symlink" if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode) \
                    else "file"
                raise LayerRefused(f"the layer writes under {whole[:200]!r} through a {kind}") from None
            raise
    finally:
        os.close(fd)


def _xattrs(member: tarfile.TarInfo) -> dict[str, bytes]:
    found = {}
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            name, data = key[len("SCHILY.xattr."):], value.encode("utf-8", "surrogateescape")
        elif key.startswith("LIBARCHIVE.xattr."):
            name, data = key[len("LIBARCHIVE.xattr."):], base64.b64decode(value + "==")
        else:
            continue
        if name.startswith(XATTR_PREFIXES):
            found[name] = data
    return found


def _ns(member: tarfile.TarInfo) -> int:
    return int(member.mtime * 1_000_000_000)


def _free_bytes(path: str | os.PathLike[str]) -> int:
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize
