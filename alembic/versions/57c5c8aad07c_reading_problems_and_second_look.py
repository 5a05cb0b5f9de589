"""reading problems, last good price, second look, picked price missing

Revision ID: 57c5c8aad07c
Revises: d7a3e9c2b5f1
Create Date: 2026-12-03 17:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

# revision identifiers, used by Alembic.
revision: str = '57c5c8aad07c'
down_revision: Union[str, Sequence[str], None] = 'd7a3e9c2b5f1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('problem', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('last_good_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('held_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('second_look', sa.JSON(), nullable=True))
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pick_missing_since', sa.DateTime(timezone=True), nullable=True))
    # A product whose last check worked had its last good price then; a failing one is
    # shown as failed (its reason unknown) until its next check says more.
    op.execute(
        "UPDATE products SET last_good_at = last_checked_at"
        " WHERE consecutive_failures = 0 AND last_checked_at IS NOT NULL"
    )
    op.execute("UPDATE products SET problem = 'failed' WHERE consecutive_failures > 0")


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('watches', schema=None) as batch_op:
        batch_op.drop_column('pick_missing_since')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('second_look')
        batch_op.drop_column('held_since')
        batch_op.drop_column('last_good_at')
        batch_op.drop_column('problem')
