"""job console (O1): outbox jobs record their state, tries, last error, timings, originating request, progress
and result; returned payouts (P9): a payout counts its failures and waits in `needs_attention` after three

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JOB_STATES = "'queued', 'running', 'retrying', 'failed', 'done'"
_PAYOUT_STATUSES = "'accruing', 'scheduled', 'in_transit', 'paid', 'failed'"


def upgrade() -> None:
    # Constant defaults and nullable columns: no rewrite of either table.
    op.add_column('outbox_jobs', sa.Column('state', sa.String(length=10), server_default='queued', nullable=False))
    op.add_column('outbox_jobs', sa.Column('tries', sa.SmallInteger(), server_default='0', nullable=False))
    op.add_column('outbox_jobs', sa.Column('last_error', sa.String(length=500), nullable=True))
    op.add_column('outbox_jobs', sa.Column('started_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox_jobs', sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('outbox_jobs', sa.Column('request_id', sa.String(length=64), nullable=True))
    op.add_column('outbox_jobs', sa.Column('progress', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('outbox_jobs', sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.execute("UPDATE outbox_jobs SET state = 'done', finished_at = done_at WHERE done_at IS NOT NULL")
    op.create_check_constraint(op.f('ck_outbox_jobs_state'), 'outbox_jobs', f"state IN ({_JOB_STATES})")
    op.create_index('ix_outbox_jobs_job_id_all', 'outbox_jobs', ['job_id'], unique=False)
    op.create_index('ix_outbox_jobs_state_id', 'outbox_jobs', ['state', 'id'], unique=False)

    # Widening a varchar rewrites nothing.
    op.alter_column('payouts', 'status', type_=sa.String(length=16), existing_type=sa.String(length=12),
                    existing_nullable=False, existing_server_default='accruing')
    op.add_column('payouts', sa.Column('failures', sa.SmallInteger(), server_default='0', nullable=False))
    op.drop_constraint(op.f('ck_payouts_status'), 'payouts', type_='check')
    op.create_check_constraint(op.f('ck_payouts_status'), 'payouts', f"status IN ({_PAYOUT_STATUSES}, 'needs_attention')")


def downgrade() -> None:
    # A payout waiting for staff reads as failed again (the older schema retries it every run).
    op.execute("UPDATE payouts SET status = 'failed' WHERE status = 'needs_attention'")
    op.drop_constraint(op.f('ck_payouts_status'), 'payouts', type_='check')
    op.create_check_constraint(op.f('ck_payouts_status'), 'payouts', f"status IN ({_PAYOUT_STATUSES})")
    op.drop_column('payouts', 'failures')
    op.alter_column('payouts', 'status', type_=sa.String(length=12), existing_type=sa.String(length=16),
                    existing_nullable=False, existing_server_default='accruing')
    op.drop_index('ix_outbox_jobs_state_id', table_name='outbox_jobs')
    op.drop_index('ix_outbox_jobs_job_id_all', table_name='outbox_jobs')
    op.drop_constraint(op.f('ck_outbox_jobs_state'), 'outbox_jobs', type_='check')
    for column in ('result', 'progress', 'request_id', 'finished_at', 'started_at', 'last_error', 'tries', 'state'):
        op.drop_column('outbox_jobs', column)
