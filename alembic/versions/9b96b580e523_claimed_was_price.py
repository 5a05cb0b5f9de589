"""the "was" price a page claims beside the price: on each reading and on the product

Revision ID: 9b96b580e523
Revises: 57c5c8aad07c
Create Date: 2026-12-03 17:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '9b96b580e523'
down_revision: str | None = "57c5c8aad07c"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_was_price', sa.Numeric(precision=18, scale=4), nullable=True))
    with op.batch_alter_table('price_points', schema=None) as batch_op:
        batch_op.add_column(sa.Column('was_price', sa.Numeric(precision=18, scale=4), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('price_points', schema=None) as batch_op:
        batch_op.drop_column('was_price')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('last_was_price')
