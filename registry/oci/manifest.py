"""Image manifests and indexes (OCI image spec and Docker v2 schema 2), parsed into frozen dataclasses.

Parsing checks structure only: what the registry must know to store a manifest (which blobs and child
manifests it needs, its subject and artifact type). The exact bytes are kept by the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from . import mediatypes as mt
from .digest import Digest, InvalidDigest

MAX_MANIFEST_BYTES = 4 * 1024 * 1024


class InvalidManifest(ValueError):
    """The document is not a manifest this registry accepts."""


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    config: Descriptor | None  # image manifests only
    layers: tuple[Descriptor, ...]  # image manifests only
    manifests: tuple[Descriptor, ...]  # indexes only
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES

    def required_blobs(self) -> set[Digest]:
        """Blobs that must already be in the repository for this manifest to be accepted."""
        blobs = {self.config.digest} if self.config else set()
        # Non-distributable (foreign) layers are fetched from their URLs, never pushed here.
        blobs.update(d.digest for d in self.layers if not mt.is_non_distributable(d.media_type))
        return blobs

    def required_manifests(self) -> set[Digest]:
        return {d.digest for d in self.manifests}

    def effective_artifact_type(self) -> str | None:
        """The type the referrers API reports: artifactType, else the config's media type."""
        if self.artifact_type:
            return self.artifact_type
        return self.config.media_type if self.config else None


def parse_manifest(body: bytes, content_type: str | None) -> Manifest:
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidManifest(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidManifest("manifest must be a JSON object")
    if doc.get("schemaVersion") != 2 or isinstance(doc.get("schemaVersion"), bool):
        raise InvalidManifest("unsupported schemaVersion (only 2 is accepted)")
    media_type = _media_type(doc, content_type)
    subject = _descriptor(doc["subject"], "subject") if "subject" in doc else None
    artifact_type = _optional_str(doc, "artifactType")
    annotations = _annotations(doc.get("annotations"), "annotations")
    if media_type in mt.INDEXES:
        manifests = tuple(_descriptor(d, f"manifests[{i}]") for i, d in enumerate(_list(doc, "manifests")))
        return Manifest(media_type, None, (), manifests, subject, artifact_type, annotations)
    if "config" not in doc:
        raise InvalidManifest("image manifest has no config")
    config = _descriptor(doc["config"], "config")
    layers = tuple(_descriptor(d, f"layers[{i}]") for i, d in enumerate(_list(doc, "layers", required=False)))
    return Manifest(media_type, config, layers, (), subject, artifact_type, annotations)


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    declared = content_type.split(";", 1)[0].strip().lower() if content_type else ""
    field_type = doc.get("mediaType")
    if field_type is not None and not isinstance(field_type, str):
        raise InvalidManifest("mediaType must be a string")
    if declared in mt.MANIFESTS:
        if field_type and field_type != declared:
            raise InvalidManifest(f"mediaType {field_type!r} does not match Content-Type {declared!r}")
        return declared
    if field_type in mt.MANIFESTS:
        return field_type
    if field_type:
        raise InvalidManifest(f"unsupported manifest media type {field_type!r}")
    # Neither says: tell by shape, as OCI manifests may omit mediaType.
    if "manifests" in doc:
        return mt.OCI_INDEX
    if "config" in doc:
        return mt.OCI_MANIFEST
    raise InvalidManifest("cannot tell the manifest's media type")


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise InvalidManifest(f"{where} must be an object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise InvalidManifest(f"{where}.mediaType must be a non-empty string")
    try:
        text = value.get("digest")
        digest = Digest.parse(text if isinstance(text, str) else "")
    except InvalidDigest as exc:
        raise InvalidManifest(f"{where}.digest: {exc}") from None
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidManifest(f"{where}.size must be a non-negative integer")
    urls = value.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise InvalidManifest(f"{where}.urls must be a list of strings")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        artifact_type=_optional_str(value, "artifactType", where),
        platform=_platform(value.get("platform"), where),
        urls=tuple(urls),
        annotations=_annotations(value.get("annotations"), f"{where}.annotations"),
    )


def _platform(value: Any, where: str) -> Platform | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidManifest(f"{where}.platform must be an object")
    fields = [value.get(k, "") for k in ("os", "architecture", "variant")]
    if not all(isinstance(f, str) for f in fields):
        raise InvalidManifest(f"{where}.platform fields must be strings")
    return Platform(*fields)


def _list(doc: dict[str, Any], key: str, required: bool = True) -> list[Any]:
    value = doc.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise InvalidManifest(f"{key} must be a list")
    return value


def _optional_str(doc: dict[str, Any], key: str, where: str = "") -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidManifest(f"{where + '.' if where else ''}{key} must be a string")
    return value or None


def _annotations(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidManifest(f"{where} must map strings to strings")
    return value
