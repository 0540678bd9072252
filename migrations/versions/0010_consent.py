"""consent before linking (A10, C8): invitations, each practice's own insurance copy, consent on client records

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 15:40:00

Today's data is kept: a client record stays the practice's copy of what it typed. A person's earliest client
record counts as consented (the account was made for that practice, or the person booked with it); a later
record, made by typing an email that already had an account, waits for the person (a pending invitation,
listed to them under /v1/me/invitations). Insurance a practice entered (audited as
`insurance.entered_by_practice` and not replaced by the person since) becomes that practice's copy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('clients', sa.Column('consented_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'practice_insurance_policies',
        sa.Column('client_id', sa.Uuid(), nullable=False),
        sa.Column('company', sa.String(length=200), nullable=False),
        sa.Column('member_id_encrypted', sa.LargeBinary(), nullable=False),
        sa.Column('member_id_last4', sa.String(length=4), nullable=False),
        sa.Column('date_of_birth_encrypted', sa.LargeBinary(), nullable=True),
        sa.Column('copay_cents', sa.Integer(), nullable=True),
        sa.Column('coinsurance_bp', sa.SmallInteger(), nullable=True),
        sa.Column('status', sa.String(length=24), server_default='on_file', nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("status IN ('on_file', 'verification_pending', 'verified', 'failed')", name=op.f('ck_practice_insurance_policies_status')),
        sa.CheckConstraint('copay_cents IS NULL OR copay_cents >= 0', name=op.f('ck_practice_insurance_policies_copay')),
        sa.CheckConstraint('coinsurance_bp IS NULL OR coinsurance_bp BETWEEN 0 AND 10000', name=op.f('ck_practice_insurance_policies_coinsurance')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_practice_insurance_policies_client_id_clients'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('client_id', name=op.f('pk_practice_insurance_policies')),
    )
    op.create_table(
        'invitations',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('user_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('client_id', sa.Uuid(), nullable=True),
        sa.Column('admin_grant_id', sa.Uuid(), nullable=True),
        sa.Column('license_type', sa.String(length=20), nullable=True),
        sa.Column('with_account', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('status', sa.String(length=12), server_default='pending', nullable=False),
        sa.Column('token_hash', sa.LargeBinary(length=32), nullable=True),
        sa.Column('invited_by_user_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('client', 'provider', 'admin', 'owner')", name=op.f('ck_invitations_kind')),
        sa.CheckConstraint("status IN ('pending', 'accepted', 'declined', 'withdrawn')", name=op.f('ck_invitations_status')),
        sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_invitations_group_id_groups'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invitations_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_invitations_client_id_clients'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['admin_grant_id'], ['admin_grants.id'], name=op.f('fk_invitations_admin_grant_id_admin_grants'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invited_by_user_id'], ['users.id'], name=op.f('fk_invitations_invited_by_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    )
    op.create_index('uq_invitations_token_hash', 'invitations', ['token_hash'], unique=True, postgresql_where=sa.text('token_hash IS NOT NULL'))
    op.create_index('ix_invitations_user_id_status', 'invitations', ['user_id', 'status'], unique=False)
    op.create_index('ix_invitations_group_id', 'invitations', ['group_id'], unique=False)
    op.create_index('ix_invitations_client_id', 'invitations', ['client_id'], unique=False)
    op.create_index('ix_invitations_admin_grant_id', 'invitations', ['admin_grant_id'], unique=False)

    # Each person's earliest client record is consented; the later ones wait for the person.
    op.execute("""
        UPDATE clients c SET consented_at = c.created_at
        FROM (SELECT DISTINCT ON (user_id) id FROM clients ORDER BY user_id, created_at, id) first
        WHERE c.id = first.id
    """)
    op.execute("""
        INSERT INTO invitations (id, group_id, user_id, kind, client_id, invited_by_user_id, created_at)
        SELECT gen_random_uuid(), c.group_id, c.user_id, 'client', c.id, c.created_by_user_id, c.created_at
        FROM clients c WHERE c.consented_at IS NULL
    """)
    # Insurance a practice typed and the person has not replaced since: that practice's copy. The practice
    # is the one whose client record the same request added, else the person's earliest record.
    op.execute("""
        CREATE TEMP TABLE typed_insurance ON COMMIT DROP AS
        SELECT DISTINCT ON (i.user_id) i.user_id,
               coalesce((SELECT c.id FROM audit_events added JOIN clients c
                          ON c.group_id = added.group_id AND c.user_id = i.user_id
                          WHERE added.request_id = typed.request_id AND added.action = 'client.roster_added'
                          LIMIT 1),
                        (SELECT c.id FROM clients c WHERE c.user_id = i.user_id ORDER BY c.created_at, c.id LIMIT 1)) AS client_id
        FROM insurance_policies i
        JOIN audit_events typed ON typed.action = 'insurance.entered_by_practice' AND typed.target_type = 'insurance_policy'
                               AND typed.target_id = i.user_id::text
        WHERE NOT EXISTS (SELECT 1 FROM audit_events own WHERE own.action = 'insurance.updated'
                            AND own.target_type = 'insurance_policy' AND own.target_id = i.user_id::text AND own.id > typed.id)
        ORDER BY i.user_id, typed.id DESC
    """)
    op.execute("""
        INSERT INTO practice_insurance_policies (client_id, company, member_id_encrypted, member_id_last4,
               date_of_birth_encrypted, copay_cents, coinsurance_bp, status, updated_at)
        SELECT t.client_id, i.company, i.member_id_encrypted, i.member_id_last4, i.date_of_birth_encrypted,
               i.copay_cents, i.coinsurance_bp, i.status, i.updated_at
        FROM typed_insurance t JOIN insurance_policies i ON i.user_id = t.user_id
        WHERE t.client_id IS NOT NULL
    """)
    op.execute("DELETE FROM insurance_policies i USING typed_insurance t WHERE i.user_id = t.user_id AND t.client_id IS NOT NULL")
    op.execute("DROP TABLE typed_insurance")


def downgrade() -> None:
    # A practice's copy goes back to the person's policy where the person has none (as before this revision).
    op.execute("""
        INSERT INTO insurance_policies (user_id, company, member_id_encrypted, member_id_last4, date_of_birth_encrypted,
               copay_cents, coinsurance_bp, status, updated_at)
        SELECT DISTINCT ON (c.user_id) c.user_id, p.company, p.member_id_encrypted, p.member_id_last4,
               p.date_of_birth_encrypted, p.copay_cents, p.coinsurance_bp, p.status, p.updated_at
        FROM practice_insurance_policies p JOIN clients c ON c.id = p.client_id
        ORDER BY c.user_id, p.updated_at
        ON CONFLICT (user_id) DO NOTHING
    """)
    op.drop_index('ix_invitations_admin_grant_id', table_name='invitations')
    op.drop_index('ix_invitations_client_id', table_name='invitations')
    op.drop_index('ix_invitations_group_id', table_name='invitations')
    op.drop_index('ix_invitations_user_id_status', table_name='invitations')
    op.drop_index('uq_invitations_token_hash', table_name='invitations', postgresql_where=sa.text('token_hash IS NOT NULL'))
    op.drop_table('invitations')
    op.drop_table('practice_insurance_policies')
    op.drop_column('clients', 'consented_at')
