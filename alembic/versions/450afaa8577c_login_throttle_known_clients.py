"""login throttle: per-client pairs remember a client's last successful log-in

Revision ID: 450afaa8577c
Revises: b7e4c1d2a9f3
Create Date: 2026-12-03 14:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '450afaa8577c'
down_revision: Union[str, Sequence[str], None] = 'b7e4c1d2a9f3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # The buckets' keys and meaning changed; counts of at most one lock period are all that is lost.
    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DELETE FROM login_throttles")
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_column('last_success_at')
