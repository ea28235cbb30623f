"""COPY and ADD's writing: files put into an image's mounted root filesystem as if it were `/`.

Every destination directory is resolved inside the root (openat2 RESOLVE_IN_ROOT, through kernel.open_in_root),
so a symlink in the image, absolute or full of `..`, leads somewhere inside the image and never onto the
host. Files are created relative to such a directory fd with O_NOFOLLOW; what stood in their place is replaced.
A mode (COPY --chmod) goes to every file and directory copied and every directory the copy creates, as
BuildKit sets it (fsutil's copy since buildkit#4945); modes are set after owners, which would clear setuid bits.
"""

from __future__ import annotations

import errno
import os
import posixpath
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

from .. import kernel
from . import BuildError

_DIRECTORY = os.O_PATH | os.O_DIRECTORY


class ImageRoot:
    """An image's root filesystem, mounted at `path`, written to as root: what is copied gets `owner` (uid, gid),
    or keeps its own when there is none (ADD of a tarball), and `mode`, or keeps its own when there is none."""

    def __init__(self, path: Path, owner: tuple[int, int] | None = None, mode: int | None = None) -> None:
        self.path, self.owner, self.mode = path, owner, mode

    def resolve(self, path: str) -> str | None:
        """The host path of `path` inside the root (symlinks followed within it), or None if it is missing."""
        fd = self._open(path, os.O_PATH)
        if fd is None:
            return None
        try:
            return _real(fd)
        finally:
            os.close(fd)

    def is_dir(self, path: str) -> bool:
        found = self.resolve(path)
        return found is not None and os.path.isdir(found)

    def make_dirs(self, path: str, links: int = 0) -> int:
        """An O_PATH fd of directory `path`, made (with its missing parents, owned as docker makes them) if needed;
        a dangling symlink on the way has its target made, inside the root."""
        if links > 40:
            raise BuildError(f"cannot copy to {path}: too many levels of symbolic links")
        parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
        fd = self._open("/", _DIRECTORY)
        assert fd is not None
        done = "/"
        for part in parts:
            done = posixpath.join(done, part)
            try:
                following = self._open(done, _DIRECTORY)
                if following is None:
                    self._make(fd, part, done, links)
                    following = self._open(done, _DIRECTORY)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            assert following is not None
            fd = following
        return fd

    def _make(self, parent: int, name: str, path: str, links: int) -> None:
        try:
            target = os.readlink(name, dir_fd=parent)
        except OSError:
            os.mkdir(name, 0o755, dir_fd=parent)
            if self.owner:
                os.chown(name, *self.owner, dir_fd=parent, follow_symlinks=False)
            if self.mode is not None:  # exactly this mode, as buildkitd (no umask) makes it
                made = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent)
                try:
                    os.fchmod(made, self.mode)
                finally:
                    os.close(made)
            return
        os.close(self.make_dirs(posixpath.join(posixpath.dirname(path), target), links + 1))

    def _open(self, path: str, flags: int) -> int | None:
        try:
            return kernel.open_in_root(self.path, path, flags)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.ENOTDIR:
                raise BuildError(f"cannot copy to {path}: a part of it is not a directory in the image") from None
            raise

    def copy(self, source: Path, destination: str, excluded: Callable[[Path], bool] = lambda _p: False,
             top: bool = True) -> None:
        """Copy `source` (a file, symlink or directory, whose contents go) to the path `destination`."""
        info = source.lstat()
        if stat.S_ISDIR(info.st_mode):
            fd = self.make_dirs(destination)
            try:
                if not top:  # the destination itself keeps what it had, or what make_dirs gave it
                    self._own(fd, info)
            finally:
                os.close(fd)
            for child in sorted(os.listdir(source)):
                if not excluded(source / child):
                    self.copy(source / child, posixpath.join(destination, child), excluded, top=False)
            return
        parent, name = posixpath.split(posixpath.normpath("/" + destination))
        fd = self.make_dirs(parent)
        try:
            directory = _real(fd)
            _remove(directory, name)
            target = os.path.join(directory, name)
            if stat.S_ISLNK(info.st_mode):
                os.symlink(os.readlink(source), target)
                os.chown(target, *(self.owner or (info.st_uid, info.st_gid)), follow_symlinks=False)
            elif stat.S_ISREG(info.st_mode):
                _copy_file(source, directory, name, info, self.owner or (info.st_uid, info.st_gid),
                           stat.S_IMODE(info.st_mode) if self.mode is None else self.mode)
            # devices, fifos and sockets of a context are not copied
        finally:
            os.close(fd)

    def _own(self, fd: int, info: os.stat_result) -> None:
        directory = _real(fd)
        os.chown(directory, *(self.owner or (info.st_uid, info.st_gid)))
        os.chmod(directory, stat.S_IMODE(info.st_mode) if self.mode is None else self.mode)


def _real(fd: int) -> str:
    """The host path an O_PATH fd (resolved in the root) stands for: it cannot be a symlink."""
    return os.readlink(f"/proc/self/fd/{fd}")


def _remove(directory: str, name: str) -> None:
    target = os.path.join(directory, name)
    if os.path.isdir(target) and not os.path.islink(target):
        shutil.rmtree(target)
    elif os.path.lexists(target):
        os.unlink(target)


def _copy_file(source: Path, directory: str, name: str, info: os.stat_result, owner: tuple[int, int],
               mode: int) -> None:
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    with open(source, "rb") as src, os.fdopen(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        os.fchown(dst.fileno(), *owner)
        os.fchmod(dst.fileno(), mode)  # after the owner: chown clears setuid and setgid bits
        os.utime(dst.fileno(), ns=(info.st_atime_ns, info.st_mtime_ns))
