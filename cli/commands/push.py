"""`berth push`: upload an image (or an index and its images) from the local store to its registry."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest
from registry.oci.manifest import Descriptor, InvalidManifest, Manifest, parse_manifest
from runtime.image_store import ImageStore, StoreError

from ..client import RegistryClient
from ..environment import Environment
from ..errors import CliError, LocalStoreError, NotFound, ReferenceError_
from ..progress import progress_for
from ..references import ImageRef, parse_ref
from ..session import image_ref, registry_client
from ..transfer import bounded, concurrency, push_scopes, short_id, upload

MAX_UPLOADS = 5  # docker's default max-concurrent-uploads (the setting of that name overrides it)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("push", help="upload an image to a registry",
                                 description="Upload an image from the local store to its registry.")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the pushed image's digest reference")
    parser.add_argument("image", metavar="NAME[:TAG|@DIGEST]")
    parser.set_defaults(func=run)


def run(env: Environment, args: argparse.Namespace) -> int:
    ref = image_ref(env, args.image)
    pushed = asyncio.run(push(env, ref, args.quiet))
    if args.quiet:
        env.print(f"{ref.name}@{pushed.digest}")
    else:
        env.print(f"{'' if ref.digest else ref.reference + ': '}digest: {pushed.digest} size: {pushed.size}")
    return 0


@dataclass(frozen=True)
class Stored:
    """A manifest or index in the store: its exact bytes, parsed."""

    digest: Digest
    body: bytes
    manifest: Manifest

    @classmethod
    def read(cls, store: ImageStore, digest: Digest, media_type: str | None) -> Stored:
        body = store.read_blob(digest)
        try:
            return cls(digest, body, parse_manifest(body, media_type))
        except InvalidManifest as exc:
            raise LocalStoreError(f"{digest} in the store: {exc}") from None

    def blobs(self) -> list[Descriptor]:
        if self.manifest.config is None:
            return []
        layers = [layer for layer in self.manifest.layers if not mt.is_non_distributable(layer.media_type)]
        return [self.manifest.config, *layers]


@dataclass(frozen=True)
class Pushed:
    digest: Digest
    size: int


async def push(env: Environment, ref: ImageRef, quiet: bool = False) -> Pushed:
    """Upload the blobs `ref` names in the store (mounting what the registry has elsewhere), then its
    manifests: the images of an index before the index, as the registry checks what they refer to."""
    store = env.store()
    try:
        found = store.resolve(str(ref))
        if found is None:
            raise NotFound(f"An image does not exist locally with the tag: {ref.name}")
        top = Stored.read(store, found.digest, found.descriptor.get("mediaType"))
        images = images_to_push(env, store, top)
        sources = mount_sources(store, ref)
    except StoreError as exc:
        raise LocalStoreError(f"{store.root}: {exc}") from None
    if len(images) == 1 and images[0] is not top:
        top = images[0]
    if not quiet:
        env.print(f"The push refers to repository [{ref.name}]")
    blobs = list({blob.digest: blob for image in images for blob in image.blobs()}.values())
    limit = concurrency(env, "max-concurrent-uploads", MAX_UPLOADS)
    configs = {image.manifest.config.digest for image in images if image.manifest.config}
    async with registry_client(env, ref.registry) as client:
        with progress_for(env, quiet) as progress:
            for blob in blobs:
                progress.add(short_id(blob), blob.size, "Waiting", shown=blob.digest not in configs)
            await bounded((upload(client, ref.repository, blob, store, progress, sources.get(blob.digest))
                           for blob in blobs), limit)
        for image in images:
            if image is not top:
                await put_manifest(client, ref.repository, str(image.digest), image)
        await put_manifest(client, ref.repository, ref.reference, top)
    return Pushed(top.digest, len(top.body))


def images_to_push(env: Environment, store: ImageStore, top: Stored) -> list[Stored]:
    """The image `top` is, or the images of the index it is (and the index itself, last).

    An index of which the store holds only some images (a pull takes one platform) cannot be pushed as it
    is: the registry would refuse it. docker 20.10 then pushes the image it has, and so do we."""
    if not top.manifest.is_index:
        return [top]
    children = [Stored.read(store, entry.digest, entry.media_type) for entry in top.manifest.manifests
                if store.has_blob(entry.digest)]
    complete = [child for child in children
                if not child.manifest.is_index and all(store.has_blob(b.digest) for b in child.blobs())]
    if len(complete) == len(top.manifest.manifests):
        return [*complete, top]
    if len(complete) == 1:
        env.note(f"The store holds only one image of index {top.digest}: pushing that image ({complete[0].digest})")
        return complete
    raise LocalStoreError(f"the store lacks images of index {top.digest}: pull them before pushing it")


def mount_sources(store: ImageStore, ref: ImageRef) -> dict[Digest, str]:
    """For each blob, another repository of the same registry that berth pulled it from or pushed it to."""
    sources: dict[Digest, str] = {}
    for reference in store.references():
        try:
            other = parse_ref(reference.name, None)
        except ReferenceError_:
            continue  # a name skopeo or umoci gave, not one of a registry
        if other.registry != ref.registry or other.repository == ref.repository:
            continue
        pending = [reference.digest]
        while pending:
            digest = pending.pop()
            if not store.has_blob(digest):
                continue
            try:
                doc = Stored.read(store, digest, None)
            except (StoreError, LocalStoreError):
                continue  # not a manifest berth can read: nothing to mount from it
            pending += [entry.digest for entry in doc.manifest.manifests]
            for blob in doc.blobs():
                sources.setdefault(blob.digest, other.repository)
    return sources


async def put_manifest(client: RegistryClient, repository: str, reference: str, stored: Stored) -> None:
    try:
        async with client.request("PUT", f"/v2/{repository}/manifests/{reference}", push_scopes(repository),
                                  expect=(201,), data=stored.body,
                                  headers={"Content-Type": stored.manifest.media_type}):
            pass
    except NotFound as exc:
        raise CliError(f"{client.registry} refused the manifest of {repository}:{reference}: {exc.message}") from None
