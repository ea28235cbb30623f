"""upload state: the resumable sha256, the blob store's state and a lease, so that any replica can continue an upload

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

`sha256` (the hex digest, kept only when one process saw every byte) gives way to `hash_state`, which
any process can resume. Uploads in progress during the upgrade keep going: with no hash state, their
digest is computed from the stored bytes when they close. Downgrading drops upload state another
version cannot use: an S3 upload in progress then has to start again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hash_state', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('store_state', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('lease_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column('sha256')


def downgrade() -> None:
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sha256', sa.String(length=64), nullable=True))
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('lease_token')
        batch_op.drop_column('store_state')
        batch_op.drop_column('hash_state')
