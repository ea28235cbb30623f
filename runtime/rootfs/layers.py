"""The layer store: each layer blob unpacked once, by digest, into `<root>/<algorithm>/<hex>/`.

A layer directory is complete or absent: it is unpacked into `.partial/` and renamed into place, so a crash
leaves only a partial directory, which the next unpacker of that digest (holding its lock) deletes. A per-digest
file lock keeps two berth processes from unpacking the same layer at once; the second one waits and reuses it.
The uncompressed stream is hashed on the way and checked against the image config's diff_id. Paths are
strings (see runtime/image_store.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from registry.oci.digest import Digest

from ..image_store import ImageStore, StoreError
from .errors import RootfsError

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    import hashlib
    import zlib
    from typing import IO

GZIP_MAGIC, ZSTD_MAGIC = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
CHUNK = 1 << 16  # per step of decompressing and hashing: larger steps leave the CPU caches (1 MiB: 1.5x the time)


class LayerStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        for sub in (".partial", ".locks"):
            os.makedirs(f"{self.root}/{sub}", exist_ok=True)

    def path(self, digest: Digest) -> str:
        return f"{self.root}/{digest.algorithm}/{digest.encoded}"

    def has(self, digest: Digest) -> bool:
        return os.path.isdir(self.path(digest))

    def ensure(self, images: ImageStore, digest: Digest, diff_id: Digest | None = None) -> str:
        """The directory of layer blob `digest`, unpacked from the image store first if it is not here yet."""
        target = self.path(digest)
        if os.path.isdir(target):
            return target
        import shutil  # from here on a layer is unpacked: `berth run` of an unpacked image never loads it

        with self._locked(digest):
            if os.path.isdir(target):
                return target  # another process unpacked it while we waited
            prefix = f"{digest.algorithm}-{digest.encoded}-"
            for stale in os.listdir(f"{self.root}/.partial"):
                if stale.startswith(prefix):  # left by a crash: we hold the lock, nobody writes it
                    shutil.rmtree(f"{self.root}/.partial/{stale}", ignore_errors=True)
            partial = f"{self.root}/.partial/{prefix}{os.urandom(4).hex()}"
            os.mkdir(partial, mode=0o755)
            try:
                self._unpack(images, digest, diff_id, partial)
                with contextlib.suppress(FileExistsError):
                    os.mkdir(os.path.dirname(target))
                os.rename(partial, target)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
        return target

    def _unpack(self, images: ImageStore, digest: Digest, diff_id: Digest | None, partial: str) -> None:
        try:
            blob = images.open_blob(digest)
        except StoreError as exc:
            raise RootfsError(str(exc)) from None
        import hashlib  # only a layer to unpack needs it: `berth run` of an unpacked image does not load it
        import zlib

        with blob:
            hasher = hashlib.new(diff_id.algorithm if diff_id else "sha256")
            stream = _Hashing(_decompressed(blob), hasher)
            from .unpack import unpack  # tarfile and friends: loaded only when there is a layer to unpack

            try:
                unpack(stream, partial)  # type: ignore[arg-type]  # read() is all tarfile's stream mode uses
                for _ in iter(lambda: stream.read(CHUNK), b""):
                    pass  # tar's trailing zero blocks count in the diff_id
            except (OSError, EOFError, zlib.error) as exc:
                if isinstance(exc, OSError) and exc.errno is not None:
                    raise  # a failure to write (disk full, permissions): not the layer's fault
                raise RootfsError(f"layer {digest} cannot be decompressed: {exc}") from None
        if diff_id is not None and hasher.hexdigest() != diff_id.encoded:
            raise RootfsError(f"layer {digest} does not match the image's diff_id {diff_id}")

    def remove_unused(self, keep: set[Digest]) -> int:
        """Delete every unpacked layer not in `keep`; returns how many went."""
        import shutil

        removed = 0
        for algorithm in os.listdir(self.root):
            if algorithm.startswith(".") or not os.path.isdir(f"{self.root}/{algorithm}"):
                continue
            for layer in os.listdir(f"{self.root}/{algorithm}"):
                digest = Digest.parse(f"{algorithm}:{layer}")
                if digest not in keep:
                    with self._locked(digest):
                        shutil.rmtree(self.path(digest), ignore_errors=True)
                    removed += 1
        return removed

    @contextlib.contextmanager
    def _locked(self, digest: Digest) -> Iterator[None]:
        with open(f"{self.root}/.locks/{digest.algorithm}-{digest.encoded}", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield


def _decompressed(blob: IO[bytes]) -> IO[bytes]:
    """gzip, zstd or a plain tar, told apart by their first bytes (media types lie often enough)."""
    magic = blob.read(4)
    blob.seek(0)
    if magic.startswith(GZIP_MAGIC):
        return _Gunzip(blob)  # type: ignore[return-value]
    if magic.startswith(ZSTD_MAGIC):
        import zstandard  # only zstd layers pay for loading it

        return zstandard.ZstdDecompressor().stream_reader(blob, read_across_frames=True)  # type: ignore[return-value]
    return blob


def _inflater() -> zlib._Decompress:
    import zlib  # here, as hashlib in _unpack: `berth run` of an unpacked image does not load it

    return zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer around deflate data


class _Gunzip:
    """A gzip stream (one member or several, as gzip allows) inflated CHUNK at a time: GzipFile works in
    8 KiB steps through three layers of Python, half the CPU time of unpacking a 210 MB image. zlib checks
    each member's CRC and length itself; no read returns more than it was asked for (a bomb stays bounded)."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source, self.pending = source, b""
        self.inflater = _inflater()
        self.inside = False  # a member has begun and not yet ended

    def read(self, size: int = -1) -> bytes:
        limit = size if size > 0 else CHUNK
        while True:
            if not self.pending:
                self.pending = self.source.read(CHUNK)
                if not self.pending:
                    if self.inside:
                        raise EOFError("the gzip stream ends inside a member")
                    return b""
            if not self.inside:
                self.pending = self.pending.lstrip(b"\0")  # zero padding after a member, as gzip accepts
                if not self.pending:
                    continue
                if self.inflater.eof:
                    self.inflater = _inflater()  # the next member
                self.inside = True
            data = self.inflater.decompress(self.pending, limit)
            if self.inflater.eof:
                self.pending, self.inside = self.inflater.unused_data, False
            else:
                self.pending = self.inflater.unconsumed_tail
            if data:
                return data


class _Hashing:
    """A reader that hashes what passes through it."""

    def __init__(self, source: IO[bytes], hasher: hashlib._Hash) -> None:
        self.source, self.hasher = source, hasher

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.hasher.update(data)
        return data
