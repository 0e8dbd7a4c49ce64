"""proposal execution time

The chain time of the block that executed a proposal, so the parameters' history steps when
an update took effect, not at its ETA. Existing rows keep NULL (readers fall back to the ETA
or the decision time).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:12:41.508113
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('executed_at_s', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_column('executed_at_s')
