"""`berth build -`: the build context on stdin, told apart as docker/cli tells it (cli/command/image/build/
context.go, DetectArchiveReader and IsArchive): a tar, plain or compressed, is the context; anything else is a
Dockerfile, built with an empty context.

A context tar is unpacked by the layer unpacker (runtime/rootfs/unpack.py) into a scratch directory: `..`
is refused, absolute names are taken as relative, nothing is written through a symlink, a hard link must point
inside the tar, device nodes are never made. What it leaves is read as any context directory is: COPY resolves
every source inside it, so a symlink in the tar that points out leads nowhere.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
from pathlib import Path
from typing import IO

from ..rootfs import RootfsError
from . import BuildError
from .filesystem import ImageRoot

HEAD = 1024  # docker/cli peeks two tar blocks (archiveHeaderSize * 2)
# moby's archive.DetectCompression: bzip2, gzip, xz, zstd
_BZIP2, _GZIP, _XZ, _ZSTD = b"BZh", b"\x1f\x8b\x08", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd"
DEFAULT_DOCKERFILE = "Dockerfile"


def read_head(stream: IO[bytes]) -> bytes:
    """The first HEAD bytes of `stream` (fewer only at its end): a pipe may give them a little at a time."""
    head = b""
    while len(head) < HEAD:
        more = stream.read(HEAD - len(head))
        if not more:
            break
        head += more
    return head


def is_archive(head: bytes) -> bool:
    """Whether a stream starting with `head` is a tar (docker/cli's IsArchive): compressed by a known method,
    or a tar header that Go's tar reader accepts (a valid checksum; an all-zero block is not one)."""
    if head.startswith((_BZIP2, _GZIP, _XZ, _ZSTD)):
        return True
    try:
        tarfile.TarInfo.frombuf(head[:tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def unpack_context(head: bytes, rest: IO[bytes], directory: Path) -> None:
    """The tar that starts with `head` and goes on in `rest`, decompressed and unpacked into the empty
    `directory`; a hostile tar is refused with nothing written outside it."""
    from ..rootfs.unpack import unpack

    stream = _decompressed(io.BufferedReader(_Joined(head, rest), 1 << 16), head)
    try:
        unpack(stream, directory, whiteouts=False)  # a context's .wh.NAME is a file, as docker keeps it
    except RootfsError as exc:  # the unpacker speaks of the layer: here it is the context
        raise BuildError(f"unable to prepare context: {str(exc).replace('the layer', 'the context')}") from None
    except (EOFError, OSError, lzma.LZMAError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:
            raise  # a failure to write (disk full): not the tar's fault
        raise BuildError(f"unable to prepare context: the tar on stdin cannot be decompressed: {exc}") from None


def dockerfile_in(directory: Path, name: str | None) -> bytes:
    """The Dockerfile `name` (default Dockerfile, else dockerfile) of an unpacked context, its symlinks
    followed inside the context only (as the daemon's remotecontext reads it)."""
    image = ImageRoot(directory)
    found = image.resolve(name or DEFAULT_DOCKERFILE)
    if found is None and name is None:
        found = image.resolve(DEFAULT_DOCKERFILE.lower())
    if found is None or not Path(found).is_file():
        raise BuildError(f"Cannot locate specified Dockerfile: {name or DEFAULT_DOCKERFILE}")
    return Path(found).read_bytes()


def _decompressed(stream: IO[bytes], head: bytes) -> IO[bytes]:
    if head.startswith(_GZIP):
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    if head.startswith(_BZIP2):
        return bz2.BZ2File(stream)
    if head.startswith(_XZ):
        return lzma.LZMAFile(stream)
    if head.startswith(_ZSTD):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)  # type: ignore[return-value]
    return stream


class _Joined(io.RawIOBase):
    """The bytes already read to tell what the stream is, then the rest of it: stdin cannot seek back."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        super().__init__()
        self.head, self.rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.head[:len(buffer)] if self.head else self.rest.read(len(buffer))
        self.head = self.head[len(data):]
        buffer[:len(data)] = data
        return len(data)
