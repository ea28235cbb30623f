"""What reading and writing archives share: names, limits, tar constants and small helpers."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from registry.oci.digest import Digest

REF_NAME = "org.opencontainers.image.ref.name"


CONTAINERD_NAME = "io.containerd.image.name"  # the full name Docker 25 and containerd put beside REF_NAME


MAX_JSON = 8 << 20  # manifest.json, index.json, repositories, configs and manifests are read whole


MAX_MEMBERS = 100_000


MAX_HEADER = 1 << 20  # pax and GNU long-name headers: tarfile reads them into memory whole


MAX_GLOBAL_HEADERS = 16  # global pax headers accumulate in memory


MAX_LINK_HOPS = 16


MAX_DEPTH = 4  # indexes of indexes


CHUNK = 1 << 20


_BLOCK = 512


_RECORD = 20 * _BLOCK


_GZIP, _ZSTD, _BZIP2, _XZ = b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"BZh", b"\xfd7zXZ\x00"


_HEX_NAME = re.compile(r"(?:.*/)?([a-f0-9]{64})(?:\.json)?")


class ArchiveError(Exception):
    """The archive cannot be read or written; the message says why, in one line."""


def familiar_name(name: str) -> str:
    """How Docker writes a name in RepoTags: Docker Hub's host left out, and `library/` for official images."""
    if not name.startswith("docker.io/"):
        return name
    rest = name.removeprefix("docker.io/")
    official = rest.removeprefix("library/")
    return official if rest.startswith("library/") and "/" not in official else rest


def split_name(name: str) -> tuple[str, str]:
    """(repository, tag) of host/repository:tag."""
    repository, _, tag = name.rpartition(":")
    return (repository, tag) if repository and "/" not in tag else (name, "latest")


def blob_member(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.encoded}"


def json_bytes(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def hash_file(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
