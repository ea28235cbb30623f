"""Blob storage: immutable, content-addressed bytes plus the scratch space of uploads in progress."""

from __future__ import annotations

from urllib.parse import urlparse

from .base import BlobStore, UploadConflict, UploadMissing
from .filesystem import FilesystemBlobStore


def open_blob_store(url: str) -> BlobStore:
    """The store a storage URL names. Unknown schemes fail loudly (never a silent fallback)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FilesystemBlobStore(parsed.path)
    raise ValueError(f"unsupported storage URL scheme: {parsed.scheme!r}")


__all__ = ["BlobStore", "FilesystemBlobStore", "UploadConflict", "UploadMissing", "open_blob_store"]
