"""import jobs: lists of links imported in the backend, with a report per line

Revision ID: c5d8e2f4a1b6
Revises: c4d8e2f1a6b3
Create Date: 2026-12-03 15:20:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = 'c5d8e2f4a1b6'
down_revision: Union[str, Sequence[str], None] = 'c4d8e2f1a6b3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'import_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_owner', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_jobs_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_jobs_finished_at'), ['finished_at'], unique=False)
    op.create_table(
        'import_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('job_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('mode', sa.String(length=10), nullable=False),
        sa.Column('target_price', sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column('any_drop', sa.Boolean(), nullable=False),
        sa.Column('drop_percent', sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column('lowest_window_days', sa.Integer(), nullable=True),
        sa.Column('notify_increase', sa.Boolean(), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('initial_price', sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column('stock_fulfilled', sa.Boolean(), nullable=False),
        sa.Column('restoring', sa.Boolean(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=10), nullable=False),
        sa.Column('message', sa.String(length=500), nullable=True),
        sa.Column('watch_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['job_id'], ['import_jobs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('job_id', 'position', name='uq_import_line_position'),
    )
    with op.batch_alter_table('import_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_lines_job_id'), ['job_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('import_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_lines_job_id'))
    op.drop_table('import_lines')
    with op.batch_alter_table('import_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_jobs_finished_at'))
        batch_op.drop_index(batch_op.f('ix_import_jobs_user_id'))
    op.drop_table('import_jobs')
