"""feed rounds, utilization points, borrower accounts, decision anchors, the fast path

Existing rows: decisions get an empty config hash, proposals the slow path (all earlier
updates went through the timelock).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 20:26:29.982398
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('borrower_account',
    sa.Column('account', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('first_seen_block', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('account')
    )
    op.create_table('utilization_point',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_symbol', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('timestamp_s', sa.BigInteger(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('utilization', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('utilization_point', schema=None) as batch_op:
        batch_op.create_index('ix_utilization_asset_time', ['asset_symbol', 'timestamp_s'], unique=False)

    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('config_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('anchor_block', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('anchor_timestamp', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('inputs_publish_tx', sqlmodel.sql.sqltypes.AutoString(), nullable=True))

    with op.batch_alter_table('price_point', schema=None) as batch_op:
        batch_op.add_column(sa.Column('round_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column('block_number', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_price_point_asset_time', ['asset_symbol', 'timestamp_s'], unique=False)

    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.add_column(sa.Column('path', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default='slow'))



def downgrade() -> None:
    with op.batch_alter_table('proposal', schema=None) as batch_op:
        batch_op.drop_column('path')

    with op.batch_alter_table('price_point', schema=None) as batch_op:
        batch_op.drop_index('ix_price_point_asset_time')
        batch_op.drop_column('block_number')
        batch_op.drop_column('round_id')

    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_column('inputs_publish_tx')
        batch_op.drop_column('anchor_timestamp')
        batch_op.drop_column('anchor_block')
        batch_op.drop_column('config_hash')

    with op.batch_alter_table('utilization_point', schema=None) as batch_op:
        batch_op.drop_index('ix_utilization_asset_time')

    op.drop_table('utilization_point')
    op.drop_table('borrower_account')
