"""apprise targets: each person's Apprise URLs (ntfy, Gotify, webhooks, …) as alert channels

Revision ID: c5d8e2f1a7b4
Revises: c5d8e2f4a1b6
Create Date: 2026-12-03 15:45:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

# revision identifiers, used by Alembic.
revision: str = 'c5d8e2f1a7b4'
down_revision: Union[str, Sequence[str], None] = 'c5d8e2f4a1b6'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('apprise_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
    sa.Column('last_detail', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('apprise_targets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apprise_targets_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('apprise_targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apprise_targets_user_id'))
    op.drop_table('apprise_targets')
