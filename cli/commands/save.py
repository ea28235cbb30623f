"""`berth save`: write images of the local store to a tar archive that `docker load` (or skopeo) reads."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from runtime.archive import ArchiveError, SavedImage, write_archive
from runtime.image_store import ImageStore, StoreError

from ..environment import Environment
from ..errors import CliError, LocalStoreError, ReferenceError_
from ..local_images import LocalImage, load_images, lookup, store_errors
from ..references import docker_name
from ..session import default_registry

FORMATS = ("docker-archive", "oci-archive")


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "save", help="save images to a tar archive (streamed to stdout by default)",
        description="Save images to a tar archive: Docker's (what `docker load` reads, and an OCI layout too) "
                    "or a plain OCI layout (--format oci-archive, what skopeo's oci-archive: reads).")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to a file instead of stdout")
    parser.add_argument("--format", choices=FORMATS, default="docker-archive", help="default: docker-archive")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="a name, an image ID (or a prefix) or a digest")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    if args.output is None and env.stdout.isatty():
        raise CliError("Cowardly refusing to save to a terminal. Use the -o flag or redirect.")
    with store_errors():
        store = env.store()
        images = saved_images(env, store, args.images)
    with _output(env, args.output) as out:
        try:
            write_archive(store, images, out, docker=args.format == "docker-archive")
        except ArchiveError as exc:
            raise CliError(str(exc)) from None
        except StoreError as exc:
            raise LocalStoreError(str(exc)) from None
    return 0


def saved_images(env: Environment, store: ImageStore, texts: list[str]) -> list[SavedImage]:
    """The image manifest (this platform's, for an index) each text names, with the names to give it.

    A name keeps its name in the archive; an image ID or digest saves the image without one, as docker does.
    Several names of one image make one image with several names.
    """
    local = load_images(store)
    found: dict[str, tuple[LocalImage, list[str]]] = {}
    for text in texts:
        image = _named(env, local, text)
        names = [image.name] if image else []
        image = image or lookup(env, local, text).image
        if image.dangling:
            names = []
        entry = found.setdefault(str(image.manifest_digest), (image, []))
        entry[1].extend(n for n in names if n not in entry[1])
    return [SavedImage(image.manifest_digest, tuple(names)) for image, names in found.values()]


def _named(env: Environment, local: list[LocalImage], text: str) -> LocalImage | None:
    """The image stored under the name docker means by `text` (busybox: docker.io/library/busybox:latest)."""
    try:
        ref = docker_name(text, default_registry(env))
    except ReferenceError_:
        return None
    return next((image for image in local if image.name == str(ref)), None)


@contextmanager
def _output(env: Environment, path: Path | None) -> Iterator[BinaryIO]:
    """stdout, or a file that appears only once it is complete (as `docker save -o` does)."""
    if path is None:
        env.stdout.flush()
        stream = getattr(env.stdout, "buffer", None)
        if stream is None:
            raise CliError("stdout does not take binary data: use the -o flag")
        try:
            yield stream
            stream.flush()
        except BrokenPipeError:
            raise CliError("the reader of stdout went away before the archive was written") from None
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as out:
            yield out
        os.replace(temporary, path)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)
