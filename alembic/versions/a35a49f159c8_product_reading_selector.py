"""products: the selector a language model's reading pointed to, and when a model was last asked

Revision ID: a35a49f159c8
Revises: 2a839be8ce5e
Create Date: 2026-12-03 17:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

# revision identifiers, used by Alembic.
revision: str = 'a35a49f159c8'
down_revision: Union[str, Sequence[str], None] = '2a839be8ce5e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reading_selector', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('model_asked_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('model_asked_at')
        batch_op.drop_column('reading_selector')
