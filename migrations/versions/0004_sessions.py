"""sessions: calendars without double-booking (S1-S6)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # S2 is an exclusion constraint on (person, time range). The embedded PostgreSQL has no
    # btree_gist, so a uuid is compared as the IPv6 address with the same 128 bits (GiST inet_ops).
    op.execute(r"""
        CREATE FUNCTION uuid_inet(u uuid) RETURNS inet
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
        AS $$ SELECT regexp_replace(replace(u::text, '-', ''), '(.{4})(?!$)', '\1:', 'g')::inet $$
    """)
    op.create_table('sessions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('provider_user_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('telehealth', sa.Boolean(), nullable=False),
    sa.Column('location_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='scheduled', nullable=False),
    sa.Column('cancellation_policy_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('confirmed_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=True),
    sa.Column('service_code', sa.String(length=10), nullable=True),
    sa.Column('diagnosis_code', sa.String(length=10), nullable=True),
    sa.Column('period_date', sa.Date(), nullable=True),
    sa.Column('pay_date', sa.Date(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('cancelled_by', sa.String(length=10), nullable=True),
    sa.Column('cancellation_reason', sa.String(length=500), nullable=True),
    sa.Column('late_cancellation_fee_cents', sa.Integer(), nullable=True),
    sa.Column('no_show_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('no_show_by_user_id', sa.Uuid(), nullable=True),
    postgresql.ExcludeConstraint((sa.text('uuid_inet(client_id) inet_ops'), '='), (sa.text('tstzrange(starts_at, ends_at)'), '&&'), where=sa.text("status NOT IN ('cancelled', 'late_cancelled')"), using='gist', name='ex_sessions_client_overlap'),
    postgresql.ExcludeConstraint((sa.text('uuid_inet(provider_user_id) inet_ops'), '='), (sa.text('tstzrange(starts_at, ends_at)'), '&&'), where=sa.text("status NOT IN ('cancelled', 'late_cancelled')"), using='gist', name='ex_sessions_provider_overlap'),
    sa.CheckConstraint("(status = 'confirmed') = (confirmed_at IS NOT NULL)", name=op.f('ck_sessions_confirmed')),
    sa.CheckConstraint("cancelled_by IS NULL OR cancelled_by IN ('client', 'provider')", name=op.f('ck_sessions_cancelled_by')),
    sa.CheckConstraint("kind IN ('intake', 'therapy')", name=op.f('ck_sessions_kind')),
    sa.CheckConstraint("status IN ('scheduled', 'confirmed', 'cancelled', 'late_cancelled', 'no_show')", name=op.f('ck_sessions_status')),
    sa.CheckConstraint('duration_minutes BETWEEN 5 AND 480', name=op.f('ck_sessions_duration_minutes')),
    sa.CheckConstraint('ends_at = starts_at + make_interval(mins => duration_minutes)', name=op.f('ck_sessions_ends_at')),
    sa.CheckConstraint('late_cancellation_fee_cents IS NULL OR late_cancellation_fee_cents >= 0', name=op.f('ck_sessions_fee')),
    sa.CheckConstraint('telehealth = (location_id IS NULL)', name=op.f('ck_sessions_where')),
    sa.ForeignKeyConstraint(['cancellation_policy_id'], ['cancellation_policies.id'], name=op.f('fk_sessions_cancellation_policy_id_cancellation_policies'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['cancelled_by_user_id'], ['users.id'], name=op.f('fk_sessions_cancelled_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sessions_client_id_clients'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['confirmed_by_user_id'], ['users.id'], name=op.f('fk_sessions_confirmed_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_sessions_created_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_sessions_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['practice_locations.id'], name=op.f('fk_sessions_location_id_practice_locations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['no_show_by_user_id'], ['users.id'], name=op.f('fk_sessions_no_show_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['provider_user_id'], ['users.id'], name=op.f('fk_sessions_provider_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sessions'))
    )
    op.create_index('ix_sessions_client_id_starts_at', 'sessions', ['client_id', 'starts_at'], unique=False)
    op.create_index('ix_sessions_group_provider_starts_at', 'sessions', ['group_id', 'provider_user_id', 'starts_at'], unique=False)
    op.create_index('ix_sessions_group_starts_at', 'sessions', ['group_id', 'starts_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sessions_group_starts_at', table_name='sessions')
    op.drop_index('ix_sessions_group_provider_starts_at', table_name='sessions')
    op.drop_index('ix_sessions_client_id_starts_at', table_name='sessions')
    op.drop_table('sessions')
    op.execute("DROP FUNCTION uuid_inet(uuid)")
