"""Image references as docker writes them: [HOST[:PORT]/]NAMESPACE/REPO[:TAG][@DIGEST].

A first component with a '.' or ':' (or `localhost`) names the registry; otherwise the default registry
applies (`BERTH_REGISTRY`, else `berth config set registry HOST`). Plain HTTP is used for localhost and
127.0.0.0/8, as docker does, and for registries configured as insecure; HTTPS everywhere else.
"""

from __future__ import annotations

from collections import namedtuple

from registry.oci.digest import Digest, InvalidDigest
from registry.oci.reference import is_valid_name, is_valid_tag

from .errors import ReferenceError_

DEFAULT_TAG = "latest"
DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


class ImageRef(namedtuple("ImageRef", "registry repository tag digest", defaults=(None, None))):
    # A named tuple, not a frozen dataclass: dataclasses loads inspect, the largest import of `berth run`.
    __slots__ = ()
    registry: str  # host[:port]
    repository: str  # namespace/name
    tag: str | None
    digest: Digest | None

    @property
    def name(self) -> str:
        """host/repository, as `REPOSITORY` shows it."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What the registry's manifest endpoint takes: the digest if there is one, else the tag."""
        return str(self.digest) if self.digest else (self.tag or DEFAULT_TAG)

    def __str__(self) -> str:
        """The full name the local store keys images by."""
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or DEFAULT_TAG}"

    def with_tag(self, tag: str) -> ImageRef:
        return ImageRef(self.registry, self.repository, tag, None)


def looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse_ref(text: str, default_registry: str | None) -> ImageRef:
    """Parse an image reference, or raise with what is wrong with it."""
    if not text or len(text) > 512 or any(c.isspace() for c in text):
        raise ReferenceError_(f"invalid reference format: {text[:100]!r}")
    rest, digest = text, None
    if "@" in rest:
        rest, _, digest_text = rest.partition("@")
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigest as exc:
            raise ReferenceError_(f"invalid reference format: {exc}") from None
    head, slash, tail = rest.partition("/")
    if slash and looks_like_host(head):
        registry, path = head, tail
    else:
        if not default_registry:
            raise ReferenceError_(f"{text!r} names no registry and there is no default: set BERTH_REGISTRY "
                                  "or run `berth config set registry HOST`")
        registry, path = default_registry, rest
    tag = None
    last_slash = path.rfind("/")
    if ":" in path[last_slash + 1:]:
        path, _, tag = path.rpartition(":")
        if not is_valid_tag(tag):
            raise ReferenceError_(f"invalid tag {tag!r} in {text!r}")
    if path != path.lower():
        raise ReferenceError_(f"invalid reference format: repository name ({path}) must be lowercase")
    if not is_valid_name(path):
        raise ReferenceError_(f"invalid reference format: {text!r}")
    return ImageRef(registry, path, tag, digest)


def parse_registry(text: str) -> str:
    """A registry given on its own (`berth login HOST`), with any scheme or path trimmed."""
    host = text.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if not host or any(c.isspace() for c in host):
        raise ReferenceError_(f"invalid registry {text!r}")
    return host


def plain_http(registry: str, insecure: list[str]) -> bool:
    """Whether to talk to `registry` over HTTP: loopback (as docker does) or configured as insecure."""
    host = registry.rsplit(":", 1)[0] if not registry.endswith("]") else registry
    host = host.strip("[]")
    if registry in insecure or host in insecure or host == "localhost":
        return True
    import ipaddress  # only now: `berth run` of a local image never gets here, and it takes 1.5 ms to load

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def docker_name(text: str, default_registry: str | None) -> ImageRef:
    """The name docker means by `text`, as the local store keeps it (and `berth load` names a docker
    archive's images): without a registry, the default registry's if there is one, else Docker Hub's with
    docker's `library/` for a single component, docker.io/library/busybox:latest. A tag, never a digest."""
    ref = parse_ref(text, default_registry or "docker.io")
    if ref.digest:
        raise ReferenceError_(f"{text!r} names a digest where a tag is needed")
    if ref.registry in DOCKER_HUB:
        repository = ref.repository if "/" in ref.repository else f"library/{ref.repository}"
        return ImageRef("docker.io", repository, ref.tag or DEFAULT_TAG)
    return ImageRef(ref.registry, ref.repository, ref.tag or DEFAULT_TAG)
