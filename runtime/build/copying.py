"""COPY and ADD: which files go where (the Dockerfile reference's rules on sources, destinations and
tarballs), here-documents made files (mode 0644, as BuildKit's llb.Mkfile makes them), and a digest of it
all for the cache."""

from __future__ import annotations

import bz2
import glob
import gzip
import hashlib
import lzma
import os
import posixpath
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..rootfs import RootfsError
from ..users import UnknownUser, resolve_user
from . import BuildError
from .context import BuildContext, Source, content_hash
from .filesystem import ImageRoot

_COMPRESSED = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
DOCUMENT_MODE = 0o644


@dataclass(frozen=True)
class Document:
    """A here-document of a COPY or ADD: the file NAME with the body (variables expanded unless quoted)."""

    name: str
    data: bytes


@dataclass
class CopyPlan:
    keyword: str  # COPY or ADD
    sources: list[Source]
    destination: str  # absolute, in the image
    chown: str | None
    excluded: Callable[[Path], bool]
    documents: list[Document] = field(default_factory=list)
    mode: int | None = None  # --chmod

    def digest(self) -> str:
        return content_hash(self.sources, self.excluded) + written_digest(self.documents, self.mode)

    def apply(self, root: Path) -> None:
        """Copy the sources, then the here-documents, into the image mounted at `root`."""
        owner = _owner(root, self.chown)
        image = ImageRoot(root, owner or (0, 0), self.mode)
        into_directory = self.destination.endswith("/") or len(self.sources) + len(self.documents) > 1 or \
            image.is_dir(self.destination)
        for source in self.sources:
            if source.path.is_dir() and not source.path.is_symlink():
                image.copy(source.path, self.destination, self.excluded)
            elif self.keyword == "ADD" and _is_tarball(source.path):
                _extract(source.path, ImageRoot(root, owner), self.destination)  # BuildKit: no --chmod there
            else:
                name = posixpath.basename(source.name) or source.path.name
                image.copy(source.path, posixpath.join(self.destination, name) if into_directory else
                           self.destination)
        if self.documents:
            self._write_documents(image, into_directory)

    def _write_documents(self, image: ImageRoot, into_directory: bool) -> None:
        scratch = Path(tempfile.mkdtemp(prefix="berth-heredoc-", dir=image.path.parent))
        try:
            for number, document in enumerate(self.documents):
                made = scratch / str(number)  # the name may hold anything: it is only the target's
                made.write_bytes(document.data)
                os.chmod(made, DOCUMENT_MODE)
                name = posixpath.basename(document.name)
                image.copy(made, posixpath.join(self.destination, name) if into_directory else self.destination)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def written_digest(documents: list[Document], mode: int | None) -> str:
    """What a COPY writes besides its sources' files, for its cache key: the here-documents, and the mode
    (a different --chmod must not reuse the layer of another)."""
    if not documents and mode is None:
        return ""
    found = hashlib.sha256(b"" if mode is None else f"chmod={mode:o}".encode())
    for document in documents:
        found.update(f"\0{document.name}\0{len(document.data)}\0".encode() + document.data)
    return found.hexdigest()


def plan(keyword: str, arguments: list[str], workdir: str, context: BuildContext | None, root: Path | None, *,
         chown: str | None = None, mode: int | None = None, documents: list[Document] | None = None) -> CopyPlan:
    """The plan of a COPY or ADD: from the context, or from another stage's root mounted at `root`, and the
    here-documents the instruction holds."""
    documents = documents or []
    if len(arguments) + len(documents) < 2:
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
    return CopyPlan(keyword, sources, destination, chown, excluded, documents, mode)


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
