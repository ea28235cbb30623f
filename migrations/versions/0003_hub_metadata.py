"""hub metadata: descriptions, stars, pull counts, tag sizes and platforms, webhooks, web sessions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('webhook',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('repository_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['repository_id'], ['repository.id'], name=op.f('fk_webhook_repository_id_repository'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook'))
    )
    op.create_index(op.f('ix_webhook_repository_id'), 'webhook', ['repository_id'])

    op.create_table('star',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('repository_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['repository_id'], ['repository.id'], name=op.f('fk_star_repository_id_repository'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_star_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'repository_id', name=op.f('pk_star'))
    )
    op.create_table('web_session',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_web_session_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_web_session'))
    )
    op.create_index(op.f('ix_web_session_user_id'), 'web_session', ['user_id'])

    op.create_table('webhook_delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhook.id'], name=op.f('fk_webhook_delivery_webhook_id_webhook'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery'))
    )
    op.create_index('ix_webhook_delivery_due', 'webhook_delivery', ['state', 'next_attempt_at'])
    op.create_index(op.f('ix_webhook_delivery_webhook_id'), 'webhook_delivery', ['webhook_id'])

    with op.batch_alter_table('manifest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('total_size', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('platforms', sa.Text(), nullable=True))

    with op.batch_alter_table('repository', schema=None) as batch_op:
        batch_op.add_column(sa.Column('short_description', sa.String(length=100), server_default='', nullable=False))
        batch_op.add_column(sa.Column('full_description', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('star_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('pull_count', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_pushed_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('repository', schema=None) as batch_op:
        batch_op.drop_column('last_pushed_at')
        batch_op.drop_column('pull_count')
        batch_op.drop_column('star_count')
        batch_op.drop_column('full_description')
        batch_op.drop_column('short_description')

    with op.batch_alter_table('manifest', schema=None) as batch_op:
        batch_op.drop_column('platforms')
        batch_op.drop_column('total_size')

    for table in ("webhook_delivery", "web_session", "star", "webhook"):
        op.drop_table(table)
