"""The metadata database: the single source of truth for repositories, tags, manifests and blob links."""

from .database import Database
from .models import Base, Blob, Manifest, ManifestReference, Repository, RepositoryBlob, Tag, Upload

__all__ = ["Base", "Blob", "Database", "Manifest", "ManifestReference", "Repository", "RepositoryBlob",
           "Tag", "Upload"]
