"""clients: rosters, insurance, billing methods, acknowledgements, documents, messaging

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 18:21:06.457337
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('acknowledgements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('document', sa.String(length=20), nullable=False),
    sa.Column('version', sa.String(length=20), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('ip', postgresql.INET(), nullable=True),
    sa.CheckConstraint("document IN ('billing_policy', 'privacy_policy')", name=op.f('ck_acknowledgements_document')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_acknowledgements_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acknowledgements')),
    sa.UniqueConstraint('user_id', 'document', 'version', name=op.f('uq_acknowledgements_user_id_document_version'))
    )
    op.create_table('billing_methods',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('processor_token', sa.String(length=200), nullable=False),
    sa.Column('brand', sa.String(length=20), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('exp_month', sa.SmallInteger(), nullable=False),
    sa.Column('exp_year', sa.SmallInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_billing_methods_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_billing_methods'))
    )
    op.create_table('clients',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=False),
    sa.Column('last_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('last_name_key', sa.String(length=100, collation='C'), sa.Computed('lower(last_name)', persisted=True), nullable=False),
    sa.Column('first_name_key', sa.String(length=100, collation='C'), sa.Computed('lower(first_name)', persisted=True), nullable=False),
    sa.Column('email_key', sa.String(length=320, collation='C'), sa.Computed('lower(email)', persisted=True), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=True),
    sa.Column('billing_type', sa.String(length=12), nullable=False),
    sa.Column('telehealth_state', sa.String(length=2), nullable=True),
    sa.Column('assessments', postgresql.ARRAY(sa.String(length=20)), server_default='{}', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_by_user_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("billing_type IN ('insurance', 'private_pay')", name=op.f('ck_clients_billing_type')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_clients_created_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_clients_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_clients_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clients')),
    sa.UniqueConstraint('group_id', 'user_id', name=op.f('uq_clients_group_id_user_id'))
    )
    op.create_index('ix_clients_group_email', 'clients', ['group_id', 'email_key'], unique=False)
    op.create_index('ix_clients_group_first_name', 'clients', ['group_id', 'first_name_key'], unique=False)
    op.create_index('ix_clients_group_name', 'clients', ['group_id', 'last_name_key', 'first_name_key', 'id'], unique=False)
    op.create_index('ix_clients_user_id', 'clients', ['user_id'], unique=False)
    op.create_table('insurance_policies',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('company', sa.String(length=200), nullable=False),
    sa.Column('member_id_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('member_id_last4', sa.String(length=4), nullable=False),
    sa.Column('date_of_birth_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('copay_cents', sa.Integer(), nullable=True),
    sa.Column('coinsurance_bp', sa.SmallInteger(), nullable=True),
    sa.Column('status', sa.String(length=24), server_default='on_file', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('on_file', 'verification_pending', 'verified', 'failed')", name=op.f('ck_insurance_policies_status')),
    sa.CheckConstraint('coinsurance_bp IS NULL OR coinsurance_bp BETWEEN 0 AND 10000', name=op.f('ck_insurance_policies_coinsurance')),
    sa.CheckConstraint('copay_cents IS NULL OR copay_cents >= 0', name=op.f('ck_insurance_policies_copay')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_insurance_policies_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_insurance_policies'))
    )
    op.create_table('client_documents',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('source', sa.String(length=20), server_default='upload', nullable=False),
    sa.Column('uploaded_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_documents_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_client_documents_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_user_id'], ['users.id'], name=op.f('fk_client_documents_uploaded_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_documents'))
    )
    op.create_index('ix_client_documents_client_id_created_at', 'client_documents', ['client_id', 'created_at'], unique=False)
    op.create_table('conversations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('provider_user_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provider_read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('client_read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_conversations_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_conversations_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_user_id'], ['users.id'], name=op.f('fk_conversations_provider_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations')),
    sa.UniqueConstraint('group_id', 'provider_user_id', 'client_id', name=op.f('uq_conversations_group_id_provider_user_id_client_id'))
    )
    op.create_index('ix_conversations_client_id', 'conversations', ['client_id'], unique=False)
    op.create_table('roster_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('provider_user_id', sa.Uuid(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('added_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_by_user_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['added_by_user_id'], ['users.id'], name=op.f('fk_roster_entries_added_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['archived_by_user_id'], ['users.id'], name=op.f('fk_roster_entries_archived_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_roster_entries_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_roster_entries_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_user_id'], ['users.id'], name=op.f('fk_roster_entries_provider_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_roster_entries'))
    )
    op.create_index('ix_roster_entries_client_id', 'roster_entries', ['client_id'], unique=False)
    op.create_index('ix_roster_entries_provider', 'roster_entries', ['group_id', 'provider_user_id'], unique=False)
    op.create_index('uq_roster_entries_active', 'roster_entries', ['client_id', 'provider_user_id'], unique=True, postgresql_where=sa.text('archived_at IS NULL'))
    op.create_table('messages',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('conversation_id', sa.Uuid(), nullable=False),
    sa.Column('sender_user_id', sa.Uuid(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_messages_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sender_user_id'], ['users.id'], name=op.f('fk_messages_sender_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    op.create_index('ix_messages_conversation_id_id', 'messages', ['conversation_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_conversation_id_id', table_name='messages')
    op.drop_table('messages')
    op.drop_index('uq_roster_entries_active', table_name='roster_entries', postgresql_where=sa.text('archived_at IS NULL'))
    op.drop_index('ix_roster_entries_provider', table_name='roster_entries')
    op.drop_index('ix_roster_entries_client_id', table_name='roster_entries')
    op.drop_table('roster_entries')
    op.drop_index('ix_conversations_client_id', table_name='conversations')
    op.drop_table('conversations')
    op.drop_index('ix_client_documents_client_id_created_at', table_name='client_documents')
    op.drop_table('client_documents')
    op.drop_table('insurance_policies')
    op.drop_index('ix_clients_user_id', table_name='clients')
    op.drop_index('ix_clients_group_name', table_name='clients')
    op.drop_index('ix_clients_group_first_name', table_name='clients')
    op.drop_index('ix_clients_group_email', table_name='clients')
    op.drop_table('clients')
    op.drop_table('billing_methods')
    op.drop_table('acknowledgements')
