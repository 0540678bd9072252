"""payouts: earning lines and payouts (P1-P7)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('payouts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('period_date', sa.Date(), nullable=False),
    sa.Column('pay_date', sa.Date(), nullable=False),
    sa.Column('arrives_earliest', sa.Date(), nullable=False),
    sa.Column('arrives_latest', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('status', sa.String(length=12), server_default='accruing', nullable=False),
    sa.Column('bank_account_last4', sa.String(length=4), nullable=True),
    sa.Column('transfer_reference', sa.String(length=100), nullable=True),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('failure_reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('accruing', 'scheduled', 'in_transit', 'paid', 'failed')", name=op.f('ck_payouts_status')),
    sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_payouts_amount_cents')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_payouts_group_id_groups'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payouts')),
    # Room on each page for HOT updates of the running amount and the status (see the model).
    postgresql_with={'fillfactor': 50},
    )
    op.create_index('uq_payouts_group_id_period_date', 'payouts', ['group_id', 'period_date'], unique=True)
    op.create_table('earning_lines',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('provider_user_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('service_code', sa.String(length=10), nullable=True),
    sa.Column('billing_type', sa.String(length=12), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('earned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_date', sa.Date(), nullable=False),
    sa.Column('pay_date', sa.Date(), nullable=False),
    sa.Column('payout_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('session', 'late_cancellation_fee')", name=op.f('ck_earning_lines_kind')),
    sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_earning_lines_amount_cents')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_earning_lines_client_id_clients'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_earning_lines_group_id_groups'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['payout_id'], ['payouts.id'], name=op.f('fk_earning_lines_payout_id_payouts'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['provider_user_id'], ['users.id'], name=op.f('fk_earning_lines_provider_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_earning_lines_session_id_sessions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_earning_lines'))
    )
    op.create_index('ix_earning_lines_group_id_earned_at', 'earning_lines', ['group_id', 'earned_at'], unique=False)
    op.create_index('ix_earning_lines_payout_id', 'earning_lines', ['payout_id'], unique=False)
    op.create_index('uq_earning_lines_session_id_kind', 'earning_lines', ['session_id', 'kind'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_earning_lines_session_id_kind', table_name='earning_lines')
    op.drop_index('ix_earning_lines_payout_id', table_name='earning_lines')
    op.drop_index('ix_earning_lines_group_id_earned_at', table_name='earning_lines')
    op.drop_table('earning_lines')
    op.drop_index('uq_payouts_group_id_period_date', table_name='payouts')
    op.drop_table('payouts')
