"""Content digests (OCI image spec, descriptor.md#digests): parse, validate and compute."""

from __future__ import annotations

import re
from collections import namedtuple

TYPE_CHECKING = False  # typing's own flag without loading typing (`berth run` starts faster)
if TYPE_CHECKING:
    import hashlib
    from collections.abc import Callable

# Registered algorithms and the exact shape of their encoded part.
_ENCODED = {
    "sha256": re.compile(r"[a-f0-9]{64}"),
    "sha512": re.compile(r"[a-f0-9]{128}"),
}
# The grammar of any digest, registered or not (used to tell "malformed" from "unsupported").
_GRAMMAR = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")


class InvalidDigest(ValueError):
    """The string is not a digest of a supported algorithm."""


class Digest(namedtuple("Digest", "algorithm encoded")):
    """An algorithm and its encoded hash, immutable and hashable. A named tuple rather than a frozen dataclass:
    dataclasses loads inspect, the largest import of `berth run`'s start-up."""

    __slots__ = ()
    algorithm: str
    encoded: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        algorithm, sep, encoded = text.partition(":")
        pattern = _ENCODED.get(algorithm)
        if not sep or pattern is None or not pattern.fullmatch(encoded):
            if _GRAMMAR.fullmatch(text) and algorithm not in _ENCODED:
                raise InvalidDigest(f"unsupported digest algorithm: {algorithm[:32]!r}")
            raise InvalidDigest(f"invalid digest: {text[:160]!r}")
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """The digest of a document in memory (a manifest, a config); streams use `hasher`."""
        return cls(algorithm, _small_hash(algorithm, data).hexdigest())

    def hasher(self) -> hashlib._Hash:
        import hashlib

        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.encoded}"


def _small_hash(algorithm: str, data: bytes) -> hashlib._Hash:
    """The interpreter's own SHA-2 where it has it: hashlib loads OpenSSL's hashes first, 3 ms of the 80 that
    `berth run` takes (it verifies its image's manifest and config). OpenSSL's are faster on large data, so
    `hasher` (for blobs) keeps them."""
    if algorithm not in _BUILT_IN:
        _BUILT_IN[algorithm] = None
        for module in (f"_{algorithm}", "_sha2"):  # CPython 3.11's _sha256 and _sha512, 3.12's _sha2
            try:
                _BUILT_IN[algorithm] = getattr(__import__(module), algorithm)
                break
            except (ImportError, AttributeError):
                continue
    constructor = _BUILT_IN[algorithm]
    if constructor is None:
        import hashlib

        return hashlib.new(algorithm, data)
    return constructor(data)


_BUILT_IN: dict[str, Callable[[bytes], hashlib._Hash] | None] = {}


def looks_like_digest(reference: str) -> bool:
    """True when a manifest reference is meant as a digest (tags never contain ':')."""
    return ":" in reference


SUPPORTED_ALGORITHMS = tuple(_ENCODED)
