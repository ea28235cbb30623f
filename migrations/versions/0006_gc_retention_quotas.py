"""gc, retention and quotas: link times, reference indexes, the GC lease, namespace quotas, retention policies

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

`repository_blob.linked_at` starts as the link's creation time for links made before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('gc_lease',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('holder', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_gc_lease'))
    )
    op.create_table('namespace_quota',
    sa.Column('namespace', sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql'),
              nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('namespace', name=op.f('pk_namespace_quota'))
    )
    op.create_table('retention_policy',
    sa.Column('repository_id', sa.Integer(), nullable=False),
    sa.Column('tag_pattern', sa.String(length=128), nullable=False),
    sa.Column('keep_last', sa.Integer(), nullable=True),
    sa.Column('keep_days', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['repository_id'], ['repository.id'],
                            name=op.f('fk_retention_policy_repository_id_repository'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('repository_id', name=op.f('pk_retention_policy'))
    )
    op.create_index('ix_manifest_reference_digest', 'manifest_reference', ['digest'])
    op.create_index('ix_repository_blob_digest', 'repository_blob', ['digest'])
    # Added nullable, filled from created_at, then made NOT NULL (a batch copy on SQLite).
    op.add_column('repository_blob', sa.Column('linked_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE repository_blob SET linked_at = created_at")
    with op.batch_alter_table('repository_blob', schema=None) as batch_op:
        batch_op.alter_column('linked_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('repository_blob', schema=None) as batch_op:
        batch_op.drop_column('linked_at')
    op.drop_index('ix_repository_blob_digest', table_name='repository_blob')
    op.drop_index('ix_manifest_reference_digest', table_name='manifest_reference')
    op.drop_table('retention_policy')
    op.drop_table('namespace_quota')
    op.drop_table('gc_lease')
