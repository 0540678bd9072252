"""no job lost: outbox rows done when their job has run; import jobs' heartbeat and attempts

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('outbox_jobs', sa.Column('done_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox_jobs', sa.Column('relays', sa.SmallInteger(), server_default='0', nullable=False))
    # Jobs relayed before this revision are taken as run: sending the whole history again would be harmless
    # (jobs are idempotent) but pointless.
    op.execute('UPDATE outbox_jobs SET done_at = relayed_at WHERE relayed_at IS NOT NULL')
    op.create_index('ix_outbox_jobs_relayed_at', 'outbox_jobs', ['relayed_at'], unique=False,
                    postgresql_where=sa.text('relayed_at IS NOT NULL AND done_at IS NULL'))
    op.create_index('ix_outbox_jobs_job_id', 'outbox_jobs', ['job_id'], unique=False,
                    postgresql_where=sa.text('done_at IS NULL'))
    op.add_column('client_imports', sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('client_imports', sa.Column('job_attempts', sa.SmallInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    op.drop_column('client_imports', 'job_attempts')
    op.drop_column('client_imports', 'heartbeat_at')
    op.drop_index('ix_outbox_jobs_job_id', table_name='outbox_jobs', postgresql_where=sa.text('done_at IS NULL'))
    op.drop_index('ix_outbox_jobs_relayed_at', table_name='outbox_jobs',
                  postgresql_where=sa.text('relayed_at IS NOT NULL AND done_at IS NULL'))
    op.drop_column('outbox_jobs', 'relays')
    op.drop_column('outbox_jobs', 'done_at')
