"""Images in the local store as docker shows them: found by name, short id or digest, with sizes and ages.

An image is what a store reference names: a manifest, or an index of which the manifest for this machine's
platform counts. Its id is its config's digest (docker's IMAGE ID). References the store keys by a bare
digest (`sha256:...`, what `berth import` without a name writes) are untagged images: docker's <none>.
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property

from registry.oci import mediatypes as mt
from registry.oci.digest import Digest, InvalidDigest
from runtime.image_store import ImageStore, Reference, StoreError

from .docker_words import parse_time
from .environment import Environment
from .errors import CliError, ExitCode, LocalStoreError, NotFound, ReferenceError_
from .references import ImageRef, docker_name
from .session import default_registry, image_ref

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

NONE = "<none>"
_ID_PREFIX = r"(?:sha256:)?([0-9a-f]{1,64})"  # compiled at first use: `berth run NAME` never needs it
_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
             "armv6l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
             "riscv64": "riscv64"}


class BadOption(CliError):
    """A flag's value berth cannot use (a filter, a --change): a usage error, like argparse's."""

    code = ExitCode.USAGE


def host_platform() -> tuple[str, str, str]:
    """(os, architecture, variant) of this machine, in OCI's words."""
    import platform  # here: `berth run` of a local image never asks

    machine = platform.machine().lower()
    variant = {"armv7l": "v7", "armv6l": "v6"}.get(machine, "")
    return ("linux" if sys.platform.startswith("linux") else sys.platform,
            _MACHINES.get(machine, machine), variant)


def split_name(name: str) -> tuple[str, str | None, str | None]:
    """(repository, tag, digest) of a store reference's name; a bare digest has repository <none>."""
    if name.startswith("sha256:") and "/" not in name:
        return NONE, None, name
    if "@" in name:
        repository, _, digest = name.partition("@")
        return repository, None, digest
    slash = name.rfind("/")
    if ":" in name[slash + 1:]:
        repository, _, tag = name.rpartition(":")
        return repository, tag, None
    return name, None, None


class LocalImage(namedtuple("LocalImage", "name descriptor manifest_digest manifest config")):
    """A named tuple, not a frozen dataclass: dataclasses loads inspect, the largest import of `berth run`.
    (No __slots__: `created` caches into the instance's dict.)"""

    name: str  # the store reference
    descriptor: dict[str, Any]  # what it names: a manifest or an index
    manifest_digest: Digest  # the image manifest for this platform
    manifest: dict[str, Any]
    config: dict[str, Any]

    @property
    def repository(self) -> str:
        return split_name(self.name)[0]

    @property
    def tag(self) -> str:
        return split_name(self.name)[1] or NONE

    @property
    def dangling(self) -> bool:
        return self.repository == NONE

    @property
    def digest(self) -> str:
        """The digest of what the reference names (docker's DIGEST, a RepoDigest)."""
        return str(self.descriptor["digest"])

    @property
    def id(self) -> str:
        return str(self.manifest["config"]["digest"])

    @property
    def short_id(self) -> str:
        return self.id.partition(":")[2][:12]

    @property
    def layers(self) -> list[dict[str, Any]]:
        return [layer for layer in self.manifest.get("layers") or [] if isinstance(layer, dict)]

    @property
    def size(self) -> int:
        """Bytes in the store: config plus layers, as pulled (compressed)."""
        return int(self.manifest["config"].get("size", 0)) + sum(int(x.get("size", 0)) for x in self.layers)

    @cached_property
    def created(self) -> datetime | None:
        return parse_time(self.config.get("created"))

    def blobs(self) -> list[Digest]:
        """What removing this image may free: config first (docker's 'Deleted: <id>'), manifests, layers."""
        found = [self.id, str(self.manifest_digest), self.digest] + [x["digest"] for x in reversed(self.layers)]
        return list(dict.fromkeys(Digest.parse(d) for d in found))


class Match(namedtuple("Match", "image by_name")):  # collections' named tuple: typing's loads typing
    __slots__ = ()
    image: LocalImage
    by_name: bool  # the text named this very reference (not an id or digest shared by several)


def open_image(store: ImageStore, reference: Reference) -> LocalImage:
    """The image a reference names; for an index, the manifest of this platform (else its first one)."""
    descriptor, doc = reference.descriptor, store.read_json(reference.digest)
    manifest_digest = reference.digest
    if doc.get("mediaType") in mt.INDEXES or descriptor.get("mediaType") in mt.INDEXES or "manifests" in doc:
        manifest_digest = _platform_child(store, doc.get("manifests") or [])
        doc = store.read_json(manifest_digest)
    if not isinstance(doc.get("config"), dict) or "digest" not in doc["config"]:
        raise StoreError(f"{reference.name} names no image manifest")
    config = store.read_json(Digest.parse(doc["config"]["digest"]))
    return LocalImage(reference.name, descriptor, manifest_digest, doc, config)


def _platform_child(store: ImageStore, children: list[Any]) -> Digest:
    wanted_os, wanted_arch, wanted_variant = host_platform()
    present = []
    for child in children:
        try:
            digest = Digest.parse(child["digest"])
        except (InvalidDigest, KeyError, TypeError):
            continue
        if child.get("mediaType") in mt.INDEXES or not store.has_blob(digest):
            continue
        found = child.get("platform") or {}
        if found.get("os") == wanted_os and found.get("architecture") == wanted_arch and \
                found.get("variant", wanted_variant) in (wanted_variant, ""):
            return digest
        present.append(digest)
    if not present:
        raise StoreError("the index names no image present in the store")
    return present[0]


def load_images(store: ImageStore, skipped: Callable[[str], None] | None = None) -> list[LocalImage]:
    """Every named image of the store, in index order; references it cannot read go to `skipped`."""
    images = []
    for reference in store.references():
        try:
            images.append(open_image(store, reference))
        except (StoreError, InvalidDigest, KeyError, TypeError, ValueError) as exc:
            if skipped:
                skipped(f"skipping {reference.name}: {exc}")
    return images


def lookup(env: Environment, images: list[LocalImage], text: str) -> Match:
    """The image `text` means: a reference's name first (as docker does), then an id prefix or a digest."""
    ref = _local_ref(env, text)
    if ref is not None:
        named = next((i for i in images if i.name == str(ref)), None)
        if named:
            return Match(named, True)
        if ref.digest:
            digest = str(ref.digest)
            same = [i for i in images if i.repository == ref.name and digest in (i.digest, str(i.manifest_digest))]
            if same:
                return Match(same[0], False)
    by_id = _by_id(images, text)
    if by_id:
        return Match(by_id, False)
    raise NotFound(f"No such image: {text}")


def find_image(env: Environment, store: ImageStore, text: str) -> LocalImage:
    """As `lookup(env, load_images(store), text).image`, but opening only the image a reference's name
    names when `text` is one: `berth run` must not read every image of a large store to start one."""
    try:
        ref = _local_ref(env, text)
    except ReferenceError_:
        ref = None
    reference = store.resolve(str(ref)) if ref is not None else None
    if reference is not None:
        return open_image(store, reference)
    return lookup(env, load_images(store), text).image


def _local_ref(env: Environment, text: str) -> ImageRef | None:
    """What `text` names in the store: its reference; when it names no registry and no default is set,
    docker's name for it (busybox: docker.io/library/busybox:latest, as `berth load` names a docker
    archive's images); None for what can only be an image id. ReferenceError_ for what is neither."""
    try:
        return image_ref(env, text)
    except ReferenceError_:
        if not default_registry(env):
            with contextlib.suppress(ReferenceError_):
                return docker_name(text, None)
        if not re.fullmatch(_ID_PREFIX, text):
            raise
        return None


def _by_id(images: list[LocalImage], text: str) -> LocalImage | None:
    found = re.fullmatch(_ID_PREFIX, text)
    if not found:
        return None
    prefix = found.group(1)
    if len(prefix) == 64:  # a full digest: of the config, or of what a reference names
        full = f"sha256:{prefix}"
        return next((i for i in images if full in (i.id, i.digest, str(i.manifest_digest))), None)
    ids = {i.id for i in images if i.id.partition(":")[2].startswith(prefix)}
    if len(ids) > 1:
        raise ReferenceError_(f"multiple IDs found with provided prefix: {text}")
    return next((i for i in images if i.id in ids and not i.dangling), None) or \
        next((i for i in images if i.id in ids), None)


def same_image(images: Iterable[LocalImage], image: LocalImage) -> list[LocalImage]:
    """Every reference to the image `image` is (one id, one or more names)."""
    return [i for i in images if i.id == image.id]


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn a failure of the store (damaged, unwritable) into the CLI's error: one line, exit STORE."""
    try:
        yield
    except (StoreError, OSError) as exc:
        raise LocalStoreError(str(exc)) from None


# -- removing ----------------------------------------------------------------------------------------

def collect_garbage(store: ImageStore, first: Iterable[Digest] = ()) -> tuple[list[Digest], int]:
    """Delete the blobs no reference reaches; returns those deleted (`first` in its order, then the
    rest sorted) and the bytes freed. Blobs a concurrent pull is still adding are left alone."""
    candidates = store.stored_blobs() - store.reachable()
    _, freed = store.collect_garbage()
    deleted = {d for d in candidates if not store.has_blob(d)}
    ordered = [d for d in dict.fromkeys(first) if d in deleted]
    return ordered + sorted(deleted - set(ordered), key=str), freed

