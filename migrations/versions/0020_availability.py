"""availability (weekly hours, time off), provider licenses, group booking settings; consultation sessions

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _provider_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['group_id', 'provider_user_id'], ['provider_profiles.group_id', 'provider_profiles.user_id'],
        name=f'fk_{table}_provider_profiles', ondelete='CASCADE',
    )


def upgrade() -> None:
    op.create_table(
        'provider_availability',
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('provider_user_id', sa.Uuid(), nullable=False),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        _provider_key('provider_availability'),
        sa.PrimaryKeyConstraint('group_id', 'provider_user_id', name=op.f('pk_provider_availability')),
    )
    op.create_table(
        'provider_weekly_hours',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('provider_user_id', sa.Uuid(), nullable=False),
        sa.Column('weekday', sa.SmallInteger(), nullable=False),
        sa.Column('start_time', sa.Time(), nullable=False),
        sa.Column('end_time', sa.Time(), nullable=False),
        sa.Column('location_id', sa.Uuid(), nullable=True),
        sa.Column('effective_from', sa.Date(), nullable=False),
        sa.Column('effective_to', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('weekday BETWEEN 0 AND 6', name=op.f('ck_provider_weekly_hours_weekday')),
        sa.CheckConstraint("end_time = '00:00' OR end_time > start_time", name=op.f('ck_provider_weekly_hours_span')),
        sa.CheckConstraint('effective_to IS NULL OR effective_to >= effective_from', name=op.f('ck_provider_weekly_hours_effective')),
        _provider_key('provider_weekly_hours'),
        sa.ForeignKeyConstraint(['location_id'], ['practice_locations.id'], name=op.f('fk_provider_weekly_hours_location_id_practice_locations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_weekly_hours')),
    )
    op.create_index('ix_provider_weekly_hours_group_id_provider_user_id', 'provider_weekly_hours', ['group_id', 'provider_user_id'])
    op.create_index('ix_provider_weekly_hours_location_id', 'provider_weekly_hours', ['location_id'], postgresql_where=sa.text('location_id IS NOT NULL'))
    op.create_table(
        'provider_time_off',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('provider_user_id', sa.Uuid(), nullable=False),
        sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('all_day', sa.Boolean(), nullable=False),
        sa.Column('first_day', sa.Date(), nullable=True),
        sa.Column('last_day', sa.Date(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('created_by_user_id', sa.Uuid(), nullable=True),
        sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_provider_time_off_span')),
        _provider_key('provider_time_off'),
        sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_provider_time_off_created_by_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_time_off')),
    )
    op.create_index('ix_provider_time_off_group_id_provider_user_id_starts_at', 'provider_time_off', ['group_id', 'provider_user_id', 'starts_at'])
    op.create_index('ix_provider_time_off_created_by_user_id', 'provider_time_off', ['created_by_user_id'], postgresql_where=sa.text('created_by_user_id IS NOT NULL'))
    op.create_table(
        'provider_licenses',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('provider_user_id', sa.Uuid(), nullable=False),
        sa.Column('state', sa.String(length=2), nullable=False),
        sa.Column('license_type', sa.String(length=16), nullable=False),
        sa.Column('number', sa.String(length=40), nullable=False),
        sa.Column('expires_on', sa.Date(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        _provider_key('provider_licenses'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_licenses')),
    )
    op.create_index('ix_provider_licenses_group_id_provider_user_id_state', 'provider_licenses', ['group_id', 'provider_user_id', 'state'])
    op.create_table(
        'group_booking_settings',
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('minimum_notice_minutes', sa.Integer(), nullable=False),
        sa.Column('horizon_days', sa.SmallInteger(), nullable=False),
        sa.Column('therapy_minutes', sa.SmallInteger(), nullable=False),
        sa.Column('consultation_minutes', sa.SmallInteger(), nullable=False),
        sa.Column('buffer_minutes', sa.SmallInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('minimum_notice_minutes BETWEEN 0 AND 43200', name=op.f('ck_group_booking_settings_notice')),
        sa.CheckConstraint('horizon_days BETWEEN 1 AND 365', name=op.f('ck_group_booking_settings_horizon')),
        sa.CheckConstraint('therapy_minutes BETWEEN 15 AND 240', name=op.f('ck_group_booking_settings_therapy')),
        sa.CheckConstraint('consultation_minutes BETWEEN 5 AND 60', name=op.f('ck_group_booking_settings_consultation')),
        sa.CheckConstraint('buffer_minutes BETWEEN 0 AND 120', name=op.f('ck_group_booking_settings_buffer')),
        sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_booking_settings_group_id_groups'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('group_id', name=op.f('pk_group_booking_settings')),
    )
    op.drop_constraint(op.f('ck_sessions_kind'), 'sessions', type_='check')
    op.alter_column('sessions', 'kind', type_=sa.String(length=16), existing_nullable=False)
    op.create_check_constraint(op.f('ck_sessions_kind'), 'sessions', "kind IN ('intake', 'therapy', 'consultation')")


def downgrade() -> None:
    op.drop_constraint(op.f('ck_sessions_kind'), 'sessions', type_='check')
    op.execute("UPDATE sessions SET kind = 'therapy' WHERE kind = 'consultation'")
    op.create_check_constraint(op.f('ck_sessions_kind'), 'sessions', "kind IN ('intake', 'therapy')")
    op.alter_column('sessions', 'kind', type_=sa.String(length=10), existing_nullable=False)
    op.drop_table('group_booking_settings')
    op.drop_table('provider_licenses')
    op.drop_table('provider_time_off')
    op.drop_table('provider_weekly_hours')
    op.drop_table('provider_availability')
