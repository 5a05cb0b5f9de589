"""watch rules (drop percent, lowest in N days, increases), per-user defaults, confirmation switch

Revision ID: d7a3e9c2b5f1
Revises: c5d8e2f1a7b4
Create Date: 2026-12-03 15:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

# revision identifiers, used by Alembic.
revision: str = 'd7a3e9c2b5f1'
down_revision: Union[str, Sequence[str], None] = 'c5d8e2f1a7b4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmation_messages', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(
            sa.Column('default_watch_mode', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default='price')
        )
        batch_op.add_column(sa.Column('default_drop_percent', sa.Numeric(precision=5, scale=2), nullable=True))
        batch_op.add_column(sa.Column('default_lowest_window_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('default_notify_increase', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('drop_percent', sa.Numeric(precision=5, scale=2), nullable=True))
        batch_op.add_column(sa.Column('lowest_window_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('notify_increase', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('increase_count', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.drop_column('increase_count')
        batch_op.drop_column('notify_increase')
        batch_op.drop_column('lowest_window_days')
        batch_op.drop_column('drop_percent')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('default_notify_increase')
        batch_op.drop_column('default_lowest_window_days')
        batch_op.drop_column('default_drop_percent')
        batch_op.drop_column('default_watch_mode')
        batch_op.drop_column('confirmation_messages')
