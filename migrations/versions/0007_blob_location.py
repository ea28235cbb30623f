"""blob location: where the blob store keeps a blob's bytes when not under its digest

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

S3 leaves a multipart upload's object at objects/<upload id> instead of copying it to the digest's key
(registry/storage/s3.py); the blob's row records that location. Rows made before this revision keep "":
their bytes are under their digests. Downgrading is refused while any blob has a location of its own:
an older version would look for those bytes under their digests and not find them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('blob', schema=None) as batch_op:
        batch_op.add_column(sa.Column('location', sa.String(length=200), server_default='', nullable=False))


def downgrade() -> None:
    located = op.get_bind().scalar(sa.text("SELECT count(*) FROM blob WHERE location <> ''"))
    if located:
        raise RuntimeError(f"{located} blob(s) live at a location of their own (S3 objects/...): an older "
                           "version cannot read them; copy them under their digests first")
    with op.batch_alter_table('blob', schema=None) as batch_op:
        batch_op.drop_column('location')
