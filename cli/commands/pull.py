"""`berth pull`: download an image (from an index, the one for a platform) into the local store."""

from __future__ import annotations

import argparse
import asyncio
import platform as host
import time
from dataclasses import dataclass

import aiohttp

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest
from registry.oci.manifest import MAX_MANIFEST_BYTES, Descriptor, InvalidManifest, Manifest, Platform, parse_manifest
from runtime.image_store import BlobBusy, ImageStore, StoreError

from ..client import RegistryClient
from ..environment import Environment
from ..errors import CliError, LocalStoreError, NetworkError, NotFound
from ..progress import progress_for
from ..references import ImageRef
from ..session import image_ref, registry_client
from ..transfer import bounded, concurrency, download, pull_scopes, short_id

MAX_DOWNLOADS = 3  # docker's default max-concurrent-downloads (the setting of that name overrides it)
ACCEPT = ", ".join((mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST))
ARCHITECTURES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386",
                 "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("pull", help="download an image from a registry",
                                 description="Download an image from a registry into the local store.")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the image's full name")
    parser.add_argument("--platform", type=parse_platform, metavar="OS/ARCH[/VARIANT]",
                        help="the image to take from a multi-platform index (default: this machine's)")
    parser.add_argument("image", metavar="NAME[:TAG|@DIGEST]")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    ref = image_ref(env, args.image)
    if not args.quiet and not ref.tag and not ref.digest:
        env.print(f"Using default tag: {ref.reference}")
    pulled = asyncio.run(pull(env, ref, args.platform or this_platform(), args.quiet))
    if not args.quiet:
        env.print(f"Digest: {pulled.digest}")
        env.print(f"Status: {'Downloaded newer image' if pulled.updated else 'Image is up to date'} for {ref}")
    env.print(str(ref))
    return 0


def parse_platform(text: str) -> Platform:
    parts = text.split("/")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not OS/ARCH[/VARIANT], e.g. linux/arm64")
    return Platform(*parts)


def this_platform() -> Platform:
    machine = host.machine().lower()
    return Platform("linux", ARCHITECTURES.get(machine, machine), "v7" if machine == "armv7l" else "")


def describe(wanted: Platform) -> str:
    return "/".join(filter(None, (wanted.os, wanted.architecture, wanted.variant)))


@dataclass(frozen=True)
class Fetched:
    """A manifest or index as the registry served it: the exact bytes, parsed, and its descriptor."""

    body: bytes
    manifest: Manifest

    @property
    def digest(self) -> Digest:
        return Digest.of(self.body)

    @property
    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.manifest.media_type, "digest": str(self.digest), "size": len(self.body)}


@dataclass(frozen=True)
class Pulled:
    digest: Digest  # of what the name now points at: the manifest, or the index it came from
    updated: bool  # the name points at other content than before the pull


async def pull(env: Environment, ref: ImageRef, wanted: Platform, quiet: bool = False) -> Pulled:
    """Fetch `ref`'s manifest, its config and layers (in parallel, resuming partial ones), then name it."""
    store = env.store()
    try:
        return await _pull(env, store, ref, wanted, quiet)
    except (StoreError, OSError) as exc:
        raise LocalStoreError(f"{store.root}: {exc}") from None


async def _pull(env: Environment, store: ImageStore, ref: ImageRef, wanted: Platform, quiet: bool) -> Pulled:
    with store.writing():  # garbage collection must not take blobs that nothing names yet
        async with registry_client(env, ref.registry) as client:
            top = await fetch_manifest(client, ref.repository, ref.reference, ref.digest)
            image = top
            if top.manifest.is_index:
                chosen = choose(top.manifest, wanted)
                image = await fetch_manifest(client, ref.repository, str(chosen.digest), chosen.digest)
            if image.manifest.is_index or image.manifest.config is None:
                raise CliError(f"{ref}: an index inside an index is not an image berth can pull")
            if not quiet:
                env.print(f"{ref.reference}: Pulling from {ref.repository}")
            await download_image(env, client, ref.repository, image.manifest, store, quiet)
        for fetched in {image.digest: image, top.digest: top}.values():
            await put_small_blob(store, fetched.body)
        previous = store.resolve(str(ref))
        store.set_reference(str(ref), top.descriptor)
    return Pulled(top.digest, updated=previous is None or previous.digest != top.digest)


async def fetch_manifest(client: RegistryClient, repository: str, reference: str,
                         expected: Digest | None = None) -> Fetched:
    path = f"/v2/{repository}/manifests/{reference}"
    try:
        async with client.request("GET", path, pull_scopes(repository), headers={"Accept": ACCEPT}) as response:
            if (response.content_length or 0) > MAX_MANIFEST_BYTES:
                raise CliError(f"{client.registry}: the manifest of {repository}:{reference} is too large")
            content_type = response.headers.get("Content-Type")
            try:
                body = await response.read()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise NetworkError(f"{client.registry}: {str(exc) or type(exc).__name__}") from None
    except NotFound as exc:
        raise NotFound(f"manifest for {client.registry}/{repository}:{reference} not found: {exc.message}") from None
    try:
        fetched = Fetched(body, parse_manifest(body, content_type))
    except InvalidManifest as exc:
        raise CliError(f"{client.registry}/{repository}:{reference}: {exc}") from None
    if expected is not None and Digest.of(body, expected.algorithm) != expected:
        raise CliError(f"{client.registry} sent a manifest for {expected} whose digest is another")
    return fetched


def choose(index: Manifest, wanted: Platform) -> Descriptor:
    """The index's entry for `wanted` (any variant, unless one is asked for)."""
    for entry in index.manifests:
        found = entry.platform
        if (found and (found.os, found.architecture) == (wanted.os, wanted.architecture)
                and wanted.variant in ("", found.variant)):
            return entry
    raise NotFound(f"no matching manifest for {describe(wanted)} in the manifest list entries")


async def download_image(env: Environment, client: RegistryClient, repository: str, manifest: Manifest,
                         store: ImageStore, quiet: bool) -> None:
    assert manifest.config is not None
    layers = [layer for layer in manifest.layers if not mt.is_non_distributable(layer.media_type)]
    blobs = list({blob.digest: blob for blob in (manifest.config, *layers)}.values())
    with progress_for(env, quiet) as progress:
        for blob in blobs:
            progress.add(short_id(blob), blob.size, "Waiting", shown=blob is not manifest.config)
        limit = concurrency(env, "max-concurrent-downloads", MAX_DOWNLOADS)
        await bounded((download(client, repository, blob, store, progress) for blob in blobs), limit)


async def put_small_blob(store: ImageStore, data: bytes) -> None:
    """A manifest into the store; another berth pulling the same image may be writing it this moment."""
    deadline = time.monotonic() + 30
    while True:
        try:
            store.put_blob(data)
            return
        except BlobBusy:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
