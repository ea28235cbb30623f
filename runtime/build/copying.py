"""COPY and ADD: which files go where (the Dockerfile reference's rules on sources, destinations and
tarballs), and a digest of them for the cache."""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..rootfs import RootfsError
from ..users import UnknownUser, resolve_user
from . import BuildError
from .context import BuildContext, Source, content_hash
from .filesystem import ImageRoot

_COMPRESSED = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


@dataclass
class CopyPlan:
    keyword: str  # COPY or ADD
    sources: list[Source]
    destination: str  # absolute, in the image
    chown: str | None
    excluded: Callable[[Path], bool]

    def digest(self) -> str:
        return content_hash(self.sources, self.excluded)

    def apply(self, root: Path) -> None:
        """Copy the sources into the image mounted at `root`."""
        owner = _owner(root, self.chown)
        image = ImageRoot(root, owner or (0, 0))
        into_directory = self.destination.endswith("/") or len(self.sources) > 1 or image.is_dir(self.destination)
        for source in self.sources:
            if source.path.is_dir() and not source.path.is_symlink():
                image.copy(source.path, self.destination, self.excluded)
            elif self.keyword == "ADD" and _is_tarball(source.path):
                _extract(source.path, ImageRoot(root, owner), self.destination)
            else:
                name = posixpath.basename(source.name) or source.path.name
                target = posixpath.join(self.destination, name) if into_directory else self.destination
                image.copy(source.path, target)


def plan(keyword: str, arguments: list[str], workdir: str, chown: str | None, context: BuildContext | None,
         root: Path | None) -> CopyPlan:
    """The plan of a COPY or ADD: from the context, or from another stage's root mounted at `root`."""
    if len(arguments) < 2:
        raise BuildError(f"{keyword} requires at least two arguments, but only one was provided. "
                         "Destination could not be determined.")
    *patterns, destination = arguments
    ends_in_slash = destination.endswith("/")
    destination = posixpath.normpath(posixpath.join(workdir or "/", destination)) + ("/" if ends_in_slash else "")
    sources: list[Source] = []
    for pattern in patterns:
        if keyword == "ADD" and "://" in pattern:
            raise BuildError(f"ADD {pattern}: remote URLs are not supported, berth builds have no outside "
                             "network; download the file into the build context and ADD that")
        if root is not None:
            sources += _stage_sources(root, pattern)
        else:
            assert context is not None
            sources += context.sources(pattern)
    excluded = context.excluded if root is None and context is not None else (lambda _path: False)
    return CopyPlan(keyword, sources, destination, chown, excluded)


def _stage_sources(root: Path, pattern: str) -> list[Source]:
    image = ImageRoot(root)
    if not any(c in pattern for c in "*?["):
        found = image.resolve(pattern)
        if found is None:
            raise BuildError(f"COPY failed: stat {pattern}: file does not exist")
        return [Source(Path(found), pattern.rstrip("/"))]
    parent, name_pattern = posixpath.split(posixpath.normpath("/" + pattern))
    directory = image.resolve(parent)
    names = sorted(glob.glob(name_pattern, root_dir=directory)) if directory else []
    if not names:
        raise BuildError(f"COPY failed: no source files were specified: {pattern} matches nothing")
    return [Source(Path(directory, name), name) for name in names]  # type: ignore[arg-type]


def _owner(root: Path, chown: str | None) -> tuple[int, int] | None:
    if not chown:
        return None
    try:
        user = resolve_user(root, chown)
    except UnknownUser as exc:
        raise BuildError(f"unable to convert uid/gid chown string to host mapping: {exc}") from None
    return user.uid, user.gid


def _is_tarball(path: Path) -> bool:
    """Whether ADD unpacks `path`: a tar archive, plain or compressed with gzip, bzip2 or xz."""
    try:
        with open(path, "rb") as f:
            head = f.read(6)
        with _open_tar(path, head) as stream:
            block = stream.read(512)
    except (OSError, EOFError, lzma.LZMAError):
        return False
    return len(block) == 512 and block[257:262] == b"ustar"


def _open_tar(path: Path, head: bytes) -> IO[bytes]:
    opener = next((open_ for magic, open_ in _COMPRESSED.items() if head.startswith(magic)), None)
    return opener(path, "rb") if opener else open(path, "rb")  # type: ignore[return-value, operator]


def _extract(path: Path, image: ImageRoot, destination: str) -> None:
    """A local tarball's contents into `destination`, their owners kept unless --chown says otherwise; unpacked
    by the layer unpacker first, so no entry can write outside its directory."""
    from ..rootfs.unpack import unpack

    with open(path, "rb") as f:
        head = f.read(6)
    scratch = Path(tempfile.mkdtemp(prefix="berth-add-", dir=image.path.parent))
    try:
        with _open_tar(path, head) as stream:
            unpack(stream, scratch)
        image.copy(scratch, destination)
    except RootfsError as exc:
        raise BuildError(f"ADD {path.name}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
