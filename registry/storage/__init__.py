"""Blob storage: immutable, content-addressed bytes plus the scratch space of uploads in progress."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from .base import BlobStore, UploadConflict, UploadMissing, UploadProgress
from .filesystem import FilesystemBlobStore

if TYPE_CHECKING:
    from ..settings import Settings
    from .s3 import S3BlobStore, S3Config


def __getattr__(name: str) -> Any:
    """The S3 store on first use only: aiobotocore takes a while to import, and most servers never need it."""
    if name in ("S3BlobStore", "S3Config"):
        from . import s3
        return getattr(s3, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_blob_store(url: str, s3: S3Config | None = None) -> BlobStore:
    """The store a storage URL names (file:///path or s3://bucket/prefix). Unknown schemes fail loudly
    (never a silent fallback)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FilesystemBlobStore(parsed.path)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"storage URL {url!r} names no bucket (s3://bucket/prefix)")
        from .s3 import S3BlobStore
        return S3BlobStore(parsed.netloc, parsed.path, s3)
    raise ValueError(f"unsupported storage URL scheme: {parsed.scheme!r}")


def open_configured_store(settings: Settings) -> BlobStore:
    """The store of `settings.storage_url`, with its S3 settings. The caller closes it (`close()`)."""
    if urlparse(settings.storage_url).scheme != "s3":
        return open_blob_store(settings.storage_url)
    from .s3 import S3Config
    return open_blob_store(settings.storage_url, S3Config(
        settings.s3_endpoint_url, settings.s3_region, settings.s3_access_key_id, settings.s3_secret_access_key,
        settings.s3_redirect, settings.s3_presign_seconds))


__all__ = ["BlobStore", "FilesystemBlobStore", "S3BlobStore", "S3Config", "UploadConflict", "UploadMissing",
           "UploadProgress", "open_blob_store", "open_configured_store"]
