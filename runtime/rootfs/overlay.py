"""A container's root filesystem: an overlay of its image's layers with its own upper and work directories.

`<container>/upper` holds what the container changed (kept across restarts, gone with the container),
`<container>/work` is overlayfs' scratch space, `<container>/rootfs` the mount point the bundle names.
Paths are strings (see runtime/image_store.py).
"""

from __future__ import annotations

import contextlib
import os

from .. import kernel
from .errors import RootfsError


class Rootfs:
    def __init__(self, container_dir: str | os.PathLike[str]) -> None:
        self.dir = directory = os.fspath(container_dir)
        self.path = f"{directory}/rootfs"
        self.upper, self.work = f"{directory}/upper", f"{directory}/work"

    @property
    def mounted(self) -> bool:
        return kernel.is_mountpoint(self.path)

    def mount(self, layers: list[str]) -> None:
        """Stack `layers` (bottom first, as a manifest lists them) under the container's upper directory."""
        if self.mounted:
            return
        for directory in (self.path, self.upper, self.work):
            with contextlib.suppress(FileExistsError):
                os.mkdir(directory, mode=0o755)
        if not layers:
            empty = f"{self.dir}/empty"
            with contextlib.suppress(FileExistsError):
                os.mkdir(empty)
            layers = [empty]
        # Topmost first, each layer once: overlayfs refuses a directory given twice (ELOOP), and an image may
        # hold one layer twice (two steps that changed nothing alike). The topmost copy alone gives the same
        # tree: what a lower copy holds, the upper one holds too and shadows it.
        lowers = list(dict.fromkeys(reversed(layers)))
        try:
            kernel.mount_overlay(self.path, lowers, self.upper, self.work)
        except OSError as exc:
            raise RootfsError(f"cannot mount the root filesystem: {exc.strerror or exc}") from None

    def unmount(self, lazy: bool = False) -> None:
        """Unmount if mounted; lazily when asked or when something still holds it (it goes when they let go)."""
        if not self.mounted:
            return
        try:
            kernel.unmount(self.path, lazy)
        except OSError as exc:
            if exc.errno != 16:  # EBUSY
                raise RootfsError(f"cannot unmount {self.path}: {exc.strerror}") from None
            kernel.unmount(self.path, lazy=True)

    def real_path(self) -> str:
        """The mount point as runc needs it: absolute, no symlinks."""
        return os.path.realpath(self.path)
