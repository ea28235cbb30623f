"""initial schema: repositories, blobs and their links, manifests, tags, uploads

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def ordered_string(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def created_at(name: str = "created_at") -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("digest", sa.String(160), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        created_at(),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_blob")),
    )
    op.create_table(
        "repository",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", ordered_string(255), nullable=False),
        created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository")),
        sa.UniqueConstraint("name", name=op.f("uq_repository_name")),
    )
    op.create_table(
        "upload",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        created_at(),
        created_at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload")),
    )
    op.create_index(op.f("ix_upload_updated_at"), "upload", ["updated_at"])
    op.create_table(
        "manifest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(160), nullable=False),
        sa.Column("media_type", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("subject_digest", sa.String(160), nullable=True),
        sa.Column("artifact_type", sa.String(255), nullable=True),
        sa.Column("annotations", sa.Text(), nullable=True),
        created_at(),
        sa.ForeignKeyConstraint(["repository_id"], ["repository.id"], ondelete="CASCADE",
                                name=op.f("fk_manifest_repository_id_repository")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manifest")),
        sa.UniqueConstraint("repository_id", "digest", name=op.f("uq_manifest_repository_id_digest")),
    )
    op.create_index("ix_manifest_subject", "manifest", ["repository_id", "subject_digest"])
    op.create_table(
        "repository_blob",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(160), nullable=False),
        created_at(),
        sa.ForeignKeyConstraint(["digest"], ["blob.digest"], name=op.f("fk_repository_blob_digest_blob")),
        sa.ForeignKeyConstraint(["repository_id"], ["repository.id"], ondelete="CASCADE",
                                name=op.f("fk_repository_blob_repository_id_repository")),
        sa.PrimaryKeyConstraint("repository_id", "digest", name=op.f("pk_repository_blob")),
    )
    op.create_table(
        "manifest_reference",
        sa.Column("manifest_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(160), nullable=False),
        sa.Column("is_manifest", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifest.id"], ondelete="CASCADE",
                                name=op.f("fk_manifest_reference_manifest_id_manifest")),
        sa.PrimaryKeyConstraint("manifest_id", "digest", name=op.f("pk_manifest_reference")),
    )
    op.create_table(
        "tag",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("name", ordered_string(128), nullable=False),
        sa.Column("manifest_id", sa.Integer(), nullable=False),
        created_at("updated_at"),
        sa.ForeignKeyConstraint(["manifest_id"], ["manifest.id"], ondelete="CASCADE",
                                name=op.f("fk_tag_manifest_id_manifest")),
        sa.ForeignKeyConstraint(["repository_id"], ["repository.id"], ondelete="CASCADE",
                                name=op.f("fk_tag_repository_id_repository")),
        sa.PrimaryKeyConstraint("repository_id", "name", name=op.f("pk_tag")),
    )
    op.create_index("ix_tag_manifest_id", "tag", ["manifest_id"])


def downgrade() -> None:
    for table in ("tag", "manifest_reference", "repository_blob", "manifest", "upload", "repository", "blob"):
        op.drop_table(table)
