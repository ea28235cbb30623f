"""`berth import`: a root filesystem tarball becomes a one-layer image, as `docker import` makes one.

The tarball (plain or gzip, from a file or stdin) is streamed once: decompressed, hashed for the layer's
diff_id, gzip-compressed and hashed again for the blob's digest, and written beside the store's blobs, so
that no size of tarball is ever held in memory. The config and manifest follow, then the reference.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import tempfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest
from runtime.image_store import ImageStore

from ..config_changes import apply_changes
from ..environment import Environment
from ..errors import CliError, ReferenceError_
from ..local_images import BadOption, host_platform, store_errors
from ..session import image_ref

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
OTHER_COMPRESSIONS = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz", b"\x28\xb5\x2f\xfd": "zstd"}


class NotATarball(CliError):
    """The input is not a tar archive berth can read."""


def register(commands: argparse._SubParsersAction, name: str = "import") -> None:
    parser = commands.add_parser(name, help="import the contents from a tarball to create a filesystem image",
                                 description="Import a root filesystem tarball (plain or gzip; '-' reads "
                                             "stdin) as a one-layer image, and print its ID.")
    parser.add_argument("file", metavar="FILE|-")
    parser.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]",
                        help="the name to give it (without one, the image is untagged: <none>)")
    parser.add_argument("-c", "--change", action="append", default=[], metavar="CHANGE",
                        help="apply a Dockerfile instruction to the image's config: CMD, ENTRYPOINT, ENV, "
                             "EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR")
    parser.add_argument("-m", "--message", default="", help="set the commit message of the imported image")
    parser.add_argument("--platform", metavar="OS/ARCH[/VARIANT]", help="the platform to record (default: this "
                                                                       "machine's)")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    name = None
    if args.reference:
        ref = image_ref(env, args.reference)
        if ref.digest:
            raise ReferenceError_("refusing to create a tag with a digest reference")
        name = str(ref)
    config = image_config(args.change, args.platform, args.message)
    with _source(env, args.file) as stream, store_errors():
        digest = import_image(env.store(), stream, config, name)
    env.print(str(digest))
    return 0


def image_config(changes: list[str], platform: str | None, message: str) -> dict[str, Any]:
    """The new image's config, without its rootfs: platform, --change settings, and docker's history line."""
    os_name, architecture, variant = host_platform()
    if platform:
        parts = platform.split("/")
        if not 2 <= len(parts) <= 3 or not all(parts):
            raise BadOption(f"invalid platform {platform!r}: expected OS/ARCH[/VARIANT], e.g. linux/arm64")
        os_name, architecture, variant = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
    created = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    config: dict[str, Any] = {"created": created, "architecture": architecture, "os": os_name}
    if variant:
        config["variant"] = variant
    config["config"] = apply_changes({}, changes)
    config["history"] = [{"created": created, "comment": message or "Imported from -"}]
    return config


def import_image(store: ImageStore, stream: BinaryIO, config: dict[str, Any], name: str | None) -> Digest:
    """Store the tarball in `stream` as an image with `config`, named `name` (else by its digest: untagged);
    returns the image ID (its config's digest)."""
    with store.writing():
        layer, diff_id = _store_layer(store, stream)
        config = {**config, "rootfs": {"type": "layers", "diff_ids": [str(diff_id)]}}
        config_bytes = _canonical(config)
        config_digest = store.put_blob(config_bytes)
        manifest = {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                    "config": {"mediaType": mt.OCI_CONFIG, "digest": str(config_digest), "size": len(config_bytes)},
                    "layers": [layer]}
        manifest_bytes = _canonical(manifest)
        manifest_digest = store.put_blob(manifest_bytes)
        store.set_reference(name or str(manifest_digest), {"mediaType": mt.OCI_MANIFEST,
                                                           "digest": str(manifest_digest),
                                                           "size": len(manifest_bytes)})
    return config_digest


def _store_layer(store: ImageStore, stream: BinaryIO) -> tuple[dict[str, Any], Digest]:
    """Compress the tarball into a new blob; returns its descriptor and the uncompressed digest."""
    diff_id, blob = hashlib.sha256(), hashlib.sha256()
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 31)  # 31: gzip framing
    # In the store's ingest directory: on its filesystem (a rename moves it), and safe from gc while
    # store.writing() is held.
    fd, temporary = tempfile.mkstemp(prefix="import-", dir=f"{store.root}/ingest")
    try:
        size = 0
        with os.fdopen(fd, "wb") as out:
            for data in _tar_stream(_chunks(stream)):
                diff_id.update(data)
                piece = compressor.compress(data)
                blob.update(piece)
                out.write(piece)
                size += len(piece)
            tail = compressor.flush()
            blob.update(tail)
            out.write(tail)
            size += len(tail)
            out.flush()
            os.fsync(out.fileno())
        digest = Digest("sha256", blob.hexdigest())
        if not store.has_blob(digest):
            ingest = store.ingest(digest, size)
            os.replace(temporary, ingest.path)  # ingest resumes from a complete file: it verifies and commits
            with ingest as writer:
                writer.commit()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    layer = {"mediaType": mt.OCI_LAYER_GZIP, "digest": str(digest), "size": size}
    return layer, Digest("sha256", diff_id.hexdigest())


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def _tar_stream(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The uncompressed tar, in pieces of at most CHUNK bytes, after checking that it starts like one."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= 512:
            break
    if head.startswith(GZIP_MAGIC):
        pieces = _gunzip(_prepend(head, chunks))
        head = b""
        for piece in pieces:
            head += piece
            if len(head) >= 512:
                break
        chunks = pieces
    else:
        for magic, name in OTHER_COMPRESSIONS.items():
            if head.startswith(magic):
                raise NotATarball(f"the tarball is compressed with {name}: berth imports plain or gzip tarballs")
    _check_tar_header(head[:512])
    yield from _prepend(head, chunks)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _gunzip(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """gzip, as gzip(1) reads it: members one after another, trailing zero padding ignored."""
    inflater = zlib.decompressobj(wbits=31)
    for chunk in chunks:
        data = chunk
        while data:
            if inflater.eof:
                if not data.startswith(GZIP_MAGIC):
                    if data.strip(b"\0"):
                        raise NotATarball("the gzip stream has trailing garbage")
                    break
                inflater = zlib.decompressobj(wbits=31)
            try:
                out = inflater.decompress(data, CHUNK)
            except zlib.error as exc:
                raise NotATarball(f"the gzip stream is corrupt: {exc}") from None
            if out:
                yield out
            data = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
    if not inflater.eof:
        raise NotATarball("the gzip stream ends early (truncated?)")


def _check_tar_header(block: bytes) -> None:
    if len(block) < 512:
        raise NotATarball("the input is not a tar archive: it is shorter than one tar header")
    if block == bytes(512):
        return  # the end-of-archive marker: an empty archive, which docker imports too
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    try:
        stored = int(block[148:156].strip(b"\0 ") or b"-1", 8)
    except ValueError:
        stored = -1
    if stored != unsigned:
        raise NotATarball("the input is not a tar archive (its first header's checksum does not match)")


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


@contextlib.contextmanager
def _source(env: Environment, file: str) -> Iterator[BinaryIO]:
    if file == "-":
        stdin = getattr(env.stdin, "buffer", None)
        if stdin is None:
            raise CliError("stdin cannot be read as bytes")
        if getattr(env.stdin, "isatty", lambda: False)():
            raise CliError("refusing to read a tarball from a terminal: give a FILE or pipe one in")
        yield stdin
        return
    try:
        stream = open(file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CliError(f"open {file}: {exc.strerror.lower() if exc.strerror else exc}") from None
    with stream:
        yield stream

