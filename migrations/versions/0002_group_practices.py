"""group practices: settings, admin grants, cancellation policies, rates, bank accounts, identity,
provider profiles, locations and intake forms

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 17:56:55.595823
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('admin_grants',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('requested_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.CheckConstraint("status IN ('pending_approval', 'pending_verification', 'active', 'rejected', 'revoked')", name=op.f('ck_admin_grants_status')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_admin_grants_decided_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_admin_grants_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['users.id'], name=op.f('fk_admin_grants_requested_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_admin_grants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_grants'))
    )
    op.create_index('ix_admin_grants_user_id_status', 'admin_grants', ['user_id', 'status'], unique=False)
    op.create_index('uq_admin_grants_open', 'admin_grants', ['group_id', 'user_id'], unique=True, postgresql_where=sa.text("status IN ('pending_approval', 'pending_verification', 'active')"))
    op.create_table('bank_accounts',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('account_holder_name', sa.String(length=200), nullable=False),
    sa.Column('routing_number', sa.String(length=9), nullable=False),
    sa.Column('account_number_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('account_last4', sa.String(length=4), nullable=False),
    sa.Column('account_type', sa.String(length=10), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_by_user_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("account_type IN ('checking', 'savings')", name=op.f('ck_bank_accounts_account_type')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_bank_accounts_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_user_id'], ['users.id'], name=op.f('fk_bank_accounts_updated_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_bank_accounts'))
    )
    op.create_table('cancellation_policies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('window_hours', sa.Integer(), nullable=False),
    sa.Column('fee_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('effective_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_by_user_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint('fee_cents >= 0', name=op.f('ck_cancellation_policies_fee_cents')),
    sa.CheckConstraint('window_hours BETWEEN 0 AND 168', name=op.f('ck_cancellation_policies_window_hours')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_cancellation_policies_created_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_cancellation_policies_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cancellation_policies'))
    )
    op.create_index('ix_cancellation_policies_group_id_effective_from', 'cancellation_policies', ['group_id', 'effective_from'], unique=False)
    op.create_table('identity_verifications',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('date_of_birth_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('tax_id_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('tax_id_last4', sa.String(length=4), nullable=False),
    sa.Column('status', sa.String(length=10), server_default=sa.text("'pending'"), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('submitted_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('rejection_reason', sa.String(length=500), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'verified', 'rejected')", name=op.f('ck_identity_verifications_status')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_identity_verifications_decided_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_identity_verifications_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['submitted_by_user_id'], ['users.id'], name=op.f('fk_identity_verifications_submitted_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_identity_verifications'))
    )
    op.create_table('provider_profiles',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('license_type', sa.String(length=16), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=True),
    sa.Column('photo_url', sa.String(length=500), nullable=True),
    sa.Column('specializations', postgresql.ARRAY(sa.String(length=100)), server_default='{}', nullable=False),
    sa.Column('languages', postgresql.ARRAY(sa.String(length=50)), server_default='{}', nullable=False),
    sa.Column('highlights', postgresql.ARRAY(sa.String(length=200)), server_default='{}', nullable=False),
    sa.Column('bio', sa.Text(), nullable=True),
    sa.Column('education', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('demographics', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('booking_slug', sa.String(length=80), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_provider_profiles_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_provider_profiles_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'user_id', name=op.f('pk_provider_profiles'))
    )
    op.create_index('uq_provider_profiles_booking_slug', 'provider_profiles', ['booking_slug'], unique=True)
    op.create_table('rates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('provider_user_id', sa.Uuid(), nullable=True),
    sa.Column('service_code', sa.String(length=10), nullable=False),
    sa.Column('private_pay_cents', sa.Integer(), nullable=False),
    sa.Column('insurance_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('private_pay_cents >= 0 AND insurance_cents >= 0', name=op.f('ck_rates_amounts')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_rates_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_user_id'], ['users.id'], name=op.f('fk_rates_provider_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rates'))
    )
    op.create_index('uq_rates_group_provider_code', 'rates', ['group_id', 'provider_user_id', 'service_code'], unique=True, postgresql_nulls_not_distinct=True)
    op.create_table('intake_forms',
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('provider_user_id', sa.Uuid(), nullable=False),
    sa.Column('questions', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['group_id', 'provider_user_id'], ['provider_profiles.group_id', 'provider_profiles.user_id'], name='fk_intake_forms_provider_profiles', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'provider_user_id', name=op.f('pk_intake_forms'))
    )
    op.create_table('practice_locations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('provider_user_id', sa.Uuid(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('address_line1', sa.String(length=200), nullable=False),
    sa.Column('address_line2', sa.String(length=200), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('postal_code', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id', 'provider_user_id'], ['provider_profiles.group_id', 'provider_profiles.user_id'], name='fk_practice_locations_provider_profiles', ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_practice_locations'))
    )
    op.create_index('ix_practice_locations_group_id_provider_user_id', 'practice_locations', ['group_id', 'provider_user_id'], unique=False)
    op.add_column('groups', sa.Column('shown_in_search', sa.Boolean(), server_default=sa.text('true'), nullable=False))
    op.add_column('groups', sa.Column('intake_session_minutes', sa.SmallInteger(), server_default='60', nullable=False))
    op.add_column('groups', sa.Column('client_age_min', sa.SmallInteger(), nullable=True))
    op.add_column('groups', sa.Column('client_age_max', sa.SmallInteger(), nullable=True))
    op.add_column('groups', sa.Column('booking_preferences', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False))
    op.add_column('groups', sa.Column('contact_email', sa.String(length=320), nullable=True))
    op.add_column('groups', sa.Column('contact_phone', sa.String(length=32), nullable=True))
    op.add_column('memberships', sa.Column('ended_reason', sa.String(length=500), nullable=True))
    # Check constraints on existing tables: autogenerate does not see these, so they are written by hand.
    op.create_check_constraint(op.f('ck_groups_intake_session_minutes'), 'groups', 'intake_session_minutes BETWEEN 15 AND 240')
    op.create_check_constraint(
        op.f('ck_groups_age_range'), 'groups', 'client_age_min IS NULL OR client_age_max IS NULL OR client_age_min <= client_age_max'
    )
    # An ended membership keeps its row but may hold no role any more.
    op.drop_constraint(op.f('ck_memberships_has_role'), 'memberships', type_='check')
    op.create_check_constraint(
        op.f('ck_memberships_has_role'), 'memberships', 'is_owner OR is_admin OR is_provider OR ended_at IS NOT NULL'
    )


def downgrade() -> None:
    op.drop_constraint(op.f('ck_memberships_has_role'), 'memberships', type_='check')
    op.create_check_constraint(op.f('ck_memberships_has_role'), 'memberships', 'is_owner OR is_admin OR is_provider')
    op.drop_constraint(op.f('ck_groups_age_range'), 'groups', type_='check')
    op.drop_constraint(op.f('ck_groups_intake_session_minutes'), 'groups', type_='check')
    op.drop_column('memberships', 'ended_reason')
    op.drop_column('groups', 'contact_phone')
    op.drop_column('groups', 'contact_email')
    op.drop_column('groups', 'booking_preferences')
    op.drop_column('groups', 'client_age_max')
    op.drop_column('groups', 'client_age_min')
    op.drop_column('groups', 'intake_session_minutes')
    op.drop_column('groups', 'shown_in_search')
    op.drop_index('ix_practice_locations_group_id_provider_user_id', table_name='practice_locations')
    op.drop_table('practice_locations')
    op.drop_table('intake_forms')
    op.drop_index('uq_rates_group_provider_code', table_name='rates', postgresql_nulls_not_distinct=True)
    op.drop_table('rates')
    op.drop_index('uq_provider_profiles_booking_slug', table_name='provider_profiles')
    op.drop_table('provider_profiles')
    op.drop_table('identity_verifications')
    op.drop_index('ix_cancellation_policies_group_id_effective_from', table_name='cancellation_policies')
    op.drop_table('cancellation_policies')
    op.drop_table('bank_accounts')
    op.drop_index('uq_admin_grants_open', table_name='admin_grants', postgresql_where=sa.text("status IN ('pending_approval', 'pending_verification', 'active')"))
    op.drop_index('ix_admin_grants_user_id_status', table_name='admin_grants')
    op.drop_table('admin_grants')
