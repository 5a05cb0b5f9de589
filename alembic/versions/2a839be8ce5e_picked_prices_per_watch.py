"""picked prices per watch: the watch's selector and readings, and the picked elements' history

Revision ID: 2a839be8ce5e
Revises: d7a3e9c2b5f1
Create Date: 2026-12-03 17:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

# revision identifiers, used by Alembic.
revision: str = '2a839be8ce5e'
down_revision: Union[str, Sequence[str], None] = 'd7a3e9c2b5f1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'pick_points',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('selector_key', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('price', sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
        sa.Column('availability', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('pick_points', schema=None) as batch_op:
        batch_op.create_index('ix_pick_points_series', ['product_id', 'selector_key', 'checked_at'], unique=False)
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_selector', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('picked_price', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('picked_currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))
        batch_op.add_column(sa.Column('picked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pick_price', sa.Numeric(precision=18, scale=4), nullable=True))
        batch_op.add_column(sa.Column('pick_currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))
        batch_op.add_column(sa.Column('pick_missing_since', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.drop_column('pick_missing_since')
        batch_op.drop_column('pick_currency')
        batch_op.drop_column('pick_price')
        batch_op.drop_column('picked_at')
        batch_op.drop_column('picked_currency')
        batch_op.drop_column('picked_price')
        batch_op.drop_column('price_selector')
    with op.batch_alter_table('pick_points', schema=None) as batch_op:
        batch_op.drop_index('ix_pick_points_series')
    op.drop_table('pick_points')
