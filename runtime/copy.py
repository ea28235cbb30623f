"""Files into and out of a container's filesystem (`berth cp`) and all of it as one tar (`berth export`).

Everything moves as a tar stream, as in docker: the source side writes a tar whose top entry is already named
as the destination wants it (docker cp's rules for existing and missing destinations, `/` and `/.`), and the
destination side unpacks it with the layer unpacker, which opens every directory without following symlinks:
a container's symlink cannot make berth write outside its root. Paths in the container are resolved with
`container_paths`, as the container itself would resolve them.

A stopped container's root filesystem is mounted here for the copy (and unmounted after), holding the
supervisor lock meanwhile, so the container cannot start (nor its last supervisor still be unmounting) under us.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import posixpath
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .container_paths import host_path, mount_for
from .containers import SUPERVISOR_LOCK, Container, ContainerError, ContainerStore
from .rootfs import Rootfs, RootfsError

WAIT_FOR_MOUNT = 5.0
ETC_FILES = ("hostname", "hosts", "resolv.conf")  # the supervisor's, in <container>/etc/


class CopyRefused(ContainerError):
    pass


@dataclass(frozen=True)
class Owner:
    """Who copied files belong to: docker gives them to root in the container, to the caller on the host."""

    uid: int
    gid: int


@contextlib.contextmanager
def container_root(container: Container, layers: list[str]) -> Iterator[Path]:
    """The container's root filesystem on the host for the duration of the block."""
    rootfs = Rootfs(container.dir)
    fd = os.open(f"{container.dir}/{SUPERVISOR_LOCK}", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + WAIT_FOR_MOUNT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break  # nobody runs it: ours to mount
            except BlockingIOError:  # a supervisor holds it: running, or unmounting after the container's end
                if _running(container) and rootfs.mounted:
                    yield Path(rootfs.path)  # the supervisor's mount, which stays while the container runs
                    return
                if time.monotonic() > deadline:
                    raise ContainerError(f"container {container.id} is starting or stopping: try again") from None
                time.sleep(0.02)
        mounted_here = not rootfs.mounted
        try:
            rootfs.mount(layers)
        except RootfsError as exc:
            raise ContainerError(str(exc)) from None
        try:
            yield Path(rootfs.path)
        finally:
            if mounted_here:
                rootfs.unmount()
    finally:
        os.close(fd)


def _running(container: Container) -> bool:
    current = ContainerStore(os.path.dirname(container.dir)).reload(container)
    return current.state.get("Status") in ("running", "paused", "restarting")


@dataclass(frozen=True)
class Mounted:
    """What is copied out, as a container path, and the host directories mounted at container paths (a volume
    under a copied directory is copied from the volume, as docker does)."""

    path: str
    sources: dict[str, Path]


def resolve(root: Path, container: Container, path: str, follow_last: bool) -> Path:
    """The host path of `path` in the container: in its root filesystem, in one of its volumes or binds, or
    one of the /etc files berth binds into every container (the root filesystem has only empty stand-ins)."""
    return Path(host_path(root, _mounts(container), path, follow_last))


def mounted(container: Container, path: str) -> Mounted:
    return Mounted(posixpath.normpath("/" + path.lstrip("/")),
                   {m["Destination"].rstrip("/") or "/": Path(m["Source"]) for m in _mounts(container)})


def _mounts(container: Container) -> list[dict[str, Any]]:
    etc = [{"Destination": f"/etc/{name}", "Source": f"{container.dir}/etc/{name}"}
           for name in ETC_FILES if os.path.isfile(f"{container.dir}/etc/{name}")]
    return [*etc, *(container.doc.get("Mounts") or [])]


def check_writable(container: Container, path: str) -> None:
    """docker cp does not write into a read-only volume or bind, nor a read-only root filesystem."""
    mount, _ = mount_for(container.doc.get("Mounts") or [], path)
    if mount is not None and not mount.get("RW", True):
        raise CopyRefused("mounted volume is marked read-only")
    if mount is None and container.host_config.get("ReadonlyRootfs"):
        raise CopyRefused("container rootfs is marked read-only")


def copy_in_or_out(source: Path, source_text: str, dest: Path, dest_text: str, owner: Owner | None,
                   described: str, below: Mounted | None = None) -> None:
    """Copy `source` to `dest` by docker cp's rules; the `_text`s are the paths as given (their trailing `/` or
    `/.` count); `described` names the source in "could not find" errors."""
    target, name = _placement(source, source_text, dest, dest_text, described)
    reader, writer = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(writer, "wb") as out:
                write_tar(out, source, name, owner, below)
        except BrokenPipeError:
            pass  # the unpacker stopped first: its error is the one to tell
        except BaseException as exc:  # noqa: B036 - handed to the caller's thread
            failure.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        with os.fdopen(reader, "rb") as stream:
            unpack_into(stream, target)
    except CopyRefused:
        producer.join()
        if not failure:
            raise
    producer.join()
    if failure:  # a truncated tar is what the unpacker saw; the reason is here
        raise CopyRefused(f"reading {described}: {failure[0]}") from None


def _placement(source: Path, source_text: str, dest: Path, dest_text: str, described: str) -> tuple[Path, str | None]:
    """docker cp's rules: the directory the copy is unpacked in, and the name its top entry gets there (None: a
    directory's entries go in themselves, for `SRC/.`)."""
    if not os.path.lexists(source):
        raise CopyRefused(f"Could not find the file {described}")
    is_dir = source.is_dir() and not source.is_symlink()
    if source_text.endswith(("/", "/.")) and not is_dir:
        raise CopyRefused(f"{described}: not a directory")
    contents = is_dir and (source_text.endswith("/.") or source_text == ".")
    if dest.is_dir():
        target, name = dest, (None if contents else source.name or None)
    elif os.path.lexists(dest):
        if is_dir:
            raise CopyRefused(f"cannot copy a directory to a file: {dest_text}")
        target, name = dest.parent, dest.name
    else:
        if dest_text.endswith("/") and not is_dir:
            raise CopyRefused(f"destination directory {dest_text} must exist")
        if not dest.parent.is_dir():
            raise CopyRefused(f"no such directory: {os.path.dirname(dest_text.rstrip('/')) or '/'}")
        target, name = dest.parent, dest.name
    return target, name


def write_tar(out: IO[bytes], source: Path, name: str | None, owner: Owner | None = None,
              below: Mounted | None = None) -> None:
    """`source` as a tar stream: its top entry called `name` (with what is under it), or with `name` None the
    directory's entries themselves at the top; what is mounted `below` it is taken from the mounts' sources."""

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if owner is not None:
            info.uid, info.gid, info.uname, info.gname = owner.uid, owner.gid, "", ""
        return info

    def add(tar: tarfile.TarFile, path: Path, arcname: str, inside: str) -> None:
        path = below.sources.get(inside, path) if below is not None else path
        if arcname:
            tar.add(path, arcname=arcname, recursive=False, filter=owned)
        if path.is_dir() and not path.is_symlink():
            for child in sorted(os.listdir(path)):
                add(tar, path / child, f"{arcname}/{child}" if arcname else child, f"{inside.rstrip('/')}/{child}")

    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        add(tar, source, name or "", below.path if below is not None else "/")


def unpack_into(stream: IO[bytes], target: Path) -> None:
    """A tar stream into the existing directory `target`, refusing to write through any symlink."""
    from .rootfs.unpack import unpack

    if not target.is_dir() or target.is_symlink():
        raise CopyRefused(f"{target} is not a directory")
    try:
        unpack(stream, target)
    except RootfsError as exc:
        raise CopyRefused(str(exc).replace("the layer", "the copy")) from None


def export(root: Path, out: IO[bytes]) -> None:
    """The whole root filesystem (not the volumes mounted on it, as docker export) as a tar stream."""
    write_tar(out, root, None)
