"""`berth load`: put the images of a tar archive (`docker save`'s, or an OCI archive) into the local store."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from registry.oci.digest import Digest
from runtime.archive import ArchiveError, LoadedImage, StagedArchive
from runtime.image_store import ImageStore, StoreError

from ..docker_words import human_size
from ..environment import Environment
from ..errors import CliError, LocalStoreError, ReferenceError_
from ..local_images import store_errors
from ..references import docker_name
from ..session import default_registry


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "load", help="load images from a tar archive (read from stdin by default)",
        description="Load images from a tar archive into the local store: what `docker save` writes (Docker "
                    "20.10's form and the newer OCI one) and OCI archives. Every blob is checked against its "
                    "digest; nothing is named unless the whole archive is good.")
    parser.add_argument("-i", "--input", type=Path, metavar="FILE", help="read from a file instead of stdin")
    parser.add_argument("-q", "--quiet", action="store_true", help="show no progress, only the images loaded")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    with store_errors():
        store = env.store()
    with _input(env, args.input) as stream:
        lines = load(env, store, stream, None if args.quiet or not env.interactive else _progress(env))
    for line in lines:
        env.print(line)
    return 0


def load(env: Environment, store: ImageStore, stream: BinaryIO,
         on_layer: Callable[[Digest, int], None] | None = None) -> list[str]:
    """Load an archive into `store` and return the lines docker prints; names are set only once all is in."""
    try:
        with store.writing(), StagedArchive(store) as archive:
            archive.read(stream)
            named = [(image, _store_names(env, image)) for image in archive.images]
            archive.commit(on_layer)
            return [line for image, names in named for line in _name(store, image, names)]
    except ArchiveError as exc:
        raise CliError(str(exc)) from None
    except (StoreError, OSError) as exc:
        raise LocalStoreError(str(exc)) from None


def _progress(env: Environment) -> Callable[[Digest, int], None]:
    """A line per layer written, on a terminal only (where docker draws its progress bars)."""
    return lambda digest, size: env.note(f"Loaded layer {digest.encoded[:12]} ({human_size(size)})")


def _store_names(env: Environment, image: LoadedImage) -> list[str]:
    try:
        return list(dict.fromkeys(str(docker_name(name, default_registry(env))) for name in image.names))
    except ReferenceError_ as exc:
        raise ReferenceError_(f"the archive names an image badly: {exc.message}") from None


def _name(store: ImageStore, image: LoadedImage, names: list[str]) -> list[str]:
    """Point the names at the image; an image without one is kept under its bare digest (docker's <none>)."""
    digest = str(Digest.parse(image.descriptor["digest"]))
    for name in names:
        store.set_reference(name, image.descriptor)
    if names:
        store.remove_reference(digest)  # no longer <none>
        return [f"Loaded image: {name}" for name in names]
    if not any(str(reference.digest) == digest for reference in store.references()):
        store.set_reference(digest, image.descriptor)
    return [f"Loaded image ID: {image.image_id}"]


@contextmanager
def _input(env: Environment, path: Path | None) -> Iterator[BinaryIO]:
    if path is None:
        if env.stdin.isatty():
            raise CliError("requested load from stdin, but stdin is empty")
        stream = getattr(env.stdin, "buffer", None)
        if stream is None:
            raise CliError("stdin does not give binary data: use the -i flag")
        yield stream
        return
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    with source:
        yield source
