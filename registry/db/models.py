"""Registry content: repositories, blobs and their links, manifests, tags, uploads.

Digests are stored as text ("sha256:..."); names sort in byte order everywhere."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime

from .base import Base, created_at, digest, intpk, ordered_string, utcnow


class Repository(Base):
    __tablename__ = "repository"
    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(ordered_string(255), unique=True)
    is_private: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[created_at]
    # The Hub's metadata: what people read and rank by when they look for images.
    short_description: Mapped[str] = mapped_column(String(100), default="", server_default="")
    full_description: Mapped[str] = mapped_column(Text, default="", server_default="")  # Markdown
    star_count: Mapped[int] = mapped_column(default=0, server_default="0")  # = rows of `star`, kept in step
    pull_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # added in batches
    last_pushed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Blob(Base):
    """A blob the store holds, whatever repositories may read it."""
    __tablename__ = "blob"
    digest: Mapped[digest] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[created_at]
    # Where the store keeps the bytes, as its commit_upload said ("": under the digest; storage/base.py).
    location: Mapped[str] = mapped_column(String(200), default="", server_default="")


class RepositoryBlob(Base):
    """A repository may read a blob only through one of these links (pushed or mounted into it)."""
    __tablename__ = "repository_blob"
    __table_args__ = (Index("ix_repository_blob_digest", "digest"),)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repository.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(ForeignKey("blob.digest"), primary_key=True)
    created_at: Mapped[created_at]
    # Renewed by every upload or mount of the blob into the repository: the garbage collector's grace
    # period counts from here (services/gc.py), so a push's manifest has time to reference it.
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Manifest(Base):
    __tablename__ = "manifest"
    __table_args__ = (
        UniqueConstraint("repository_id", "digest"),
        Index("ix_manifest_subject", "repository_id", "subject_digest"),
    )
    id: Mapped[intpk]
    repository_id: Mapped[int] = mapped_column(ForeignKey("repository.id", ondelete="CASCADE"))
    digest: Mapped[digest]
    media_type: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)  # the exact bytes pushed
    subject_digest: Mapped[str | None] = mapped_column(String(160))
    artifact_type: Mapped[str | None] = mapped_column(String(255))
    annotations: Mapped[str | None] = mapped_column(Text)  # JSON, for referrers descriptors
    created_at: Mapped[created_at]
    # Worked out at push time for the Hub's tag list: bytes to download (config and layers, compressed)
    # and the platforms ("linux/amd64", ...) as JSON; an index sums and lists its children's.
    total_size: Mapped[int | None] = mapped_column(BigInteger)
    platforms: Mapped[str | None] = mapped_column(Text)


class ManifestReference(Base):
    """What a manifest needs: its config and layers (blobs) or its children (manifests)."""
    __tablename__ = "manifest_reference"
    __table_args__ = (Index("ix_manifest_reference_digest", "digest"),)  # the garbage collector's mark
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifest.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[digest] = mapped_column(primary_key=True)
    is_manifest: Mapped[bool]


class Tag(Base):
    __tablename__ = "tag"
    __table_args__ = (Index("ix_tag_manifest_id", "manifest_id"),)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repository.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(ordered_string(128), primary_key=True)
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifest.id", ondelete="CASCADE"))
    updated_at: Mapped[created_at]


class Upload(Base):
    """A blob upload in progress: everything another replica needs to continue it (services/uploads.py).

    `size`, `hash_state` and `store_state` describe the scratch bytes stored so far and change together,
    only by the holder of the lease (`lease_token` until `lease_expires_at`)."""
    __tablename__ = "upload"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    repository: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    # The running sha256 of bytes [0, size) (services/hashstate.py); None: compute it from the bytes.
    hash_state: Mapped[bytes | None] = mapped_column(LargeBinary)
    store_state: Mapped[str] = mapped_column(Text, default="", server_default="")  # the BlobStore's, opaque
    lease_token: Mapped[str | None] = mapped_column(String(32))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class GcLease(Base):
    """Who runs the garbage collector now: one row per job, taken by a conditional UPDATE (services/gc_lease.py).
    A holder that dies stops renewing, and the lease is free again at `expires_at`."""
    __tablename__ = "gc_lease"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class NamespaceQuota(Base):
    """The most bytes of blobs a namespace's repositories may link (a blob shared by several counts once).
    Keyed by name: with --auth none namespaces have no `namespace` row."""
    __tablename__ = "namespace_quota"
    namespace: Mapped[str] = mapped_column(ordered_string(255), primary_key=True)
    bytes: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[created_at]


class RetentionPolicy(Base):
    """Which tags of a repository the garbage collector keeps (services/retention.py): of the tags matching
    `tag_pattern` (a glob), the `keep_last` most recently pushed and those pushed within `keep_days`."""
    __tablename__ = "retention_policy"
    repository_id: Mapped[int] = mapped_column(ForeignKey("repository.id", ondelete="CASCADE"), primary_key=True)
    tag_pattern: Mapped[str] = mapped_column(String(128), default="*")
    keep_last: Mapped[int | None]
    keep_days: Mapped[int | None]
    updated_at: Mapped[created_at]
