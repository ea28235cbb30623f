"""The metadata database: the single source of truth for repositories, tags, manifests and blob links."""

from . import accounts, hub  # noqa: F401  (registers their tables on Base.metadata)
from .base import Base
from .database import Database
from .models import Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag, Upload

__all__ = ["Base", "Blob", "Database", "Manifest", "ManifestReference", "Repository", "RepositoryBlob",
           "Tag", "Upload"]
