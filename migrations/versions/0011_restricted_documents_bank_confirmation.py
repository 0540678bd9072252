"""restricted documents (C9) and owner-confirmed payout accounts (P8)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = "('clinical', 'administrative', 'billing', 'psychotherapy_note', 'message')"


def upgrade() -> None:
    # C9: every document gets a category; uploads so far are clinical attachments (C7).
    op.add_column('client_documents', sa.Column('category', sa.String(length=20), server_default='clinical', nullable=False))
    op.create_check_constraint(op.f('ck_client_documents_category'), 'client_documents', f'category IN {CATEGORIES}')
    # Documents an import attached keep their origin in the import's rows: the export's folder of each
    # document, with its name and size, on the row of the client it was attached to. A document matching
    # a restricted folder's entry (same client, size, and name as stored) is filed restricted; where
    # entries of several folders match, the most guarded wins (message, then note, then administrative).
    op.execute("""
        WITH origin AS (
            SELECT d.id,
                   bool_or(e->>'category' = 'secure_messages') AS message,
                   bool_or(e->>'category' = 'psychotherapy_notes') AS note,
                   bool_or(e->>'category' = 'administrative') AS administrative
              FROM client_documents d
              JOIN import_rows r ON r.client_id = d.client_id
              CROSS JOIN LATERAL jsonb_array_elements(r.documents) e
             WHERE d.source = 'import'
               AND (e->>'size')::bigint = d.size_bytes
               AND starts_with(d.file_name, regexp_replace(e->>'file_name', '\\.[^.]*$', ''))
             GROUP BY d.id
        )
        UPDATE client_documents d
           SET category = CASE WHEN o.message THEN 'message' WHEN o.note THEN 'psychotherapy_note'
                               WHEN o.administrative THEN 'administrative' ELSE 'clinical' END
          FROM origin o
         WHERE o.id = d.id
    """)

    # P8: the account on file is the one in force, confirmed as of its last change (existing accounts are
    # treated as confirmed); new ones wait in bank_account_changes for the owner.
    op.add_column('bank_accounts', sa.Column('confirmed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False))
    op.execute('UPDATE bank_accounts SET confirmed_at = updated_at')
    op.create_table(
        'bank_account_changes',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('account_holder_name', sa.String(length=200), nullable=False),
        sa.Column('routing_number', sa.String(length=9), nullable=False),
        sa.Column('account_number_encrypted', sa.LargeBinary(), nullable=False),
        sa.Column('account_last4', sa.String(length=4), nullable=False),
        sa.Column('account_type', sa.String(length=10), nullable=False),
        sa.Column('status', sa.String(length=30), server_default='pending_owner_confirmation', nullable=False),
        sa.Column('token_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('requested_by_user_id', sa.Uuid(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_user_id', sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending_owner_confirmation', 'confirmed', 'refused', 'superseded')",
            name=op.f('ck_bank_account_changes_status'),
        ),
        sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_bank_account_changes_group_id_groups'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['requested_by_user_id'], ['users.id'], name=op.f('fk_bank_account_changes_requested_by_user_id_users'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_bank_account_changes_decided_by_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_account_changes')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_bank_account_changes_token_hash')),
    )
    op.create_index(
        'uq_bank_account_changes_pending', 'bank_account_changes', ['group_id'], unique=True,
        postgresql_where=sa.text("status = 'pending_owner_confirmation'"),
    )
    op.create_index('ix_bank_account_changes_group_id_requested_at', 'bank_account_changes', ['group_id', 'requested_at'])


def downgrade() -> None:
    op.drop_index('ix_bank_account_changes_group_id_requested_at', table_name='bank_account_changes')
    op.drop_index('uq_bank_account_changes_pending', table_name='bank_account_changes')
    op.drop_table('bank_account_changes')
    op.drop_column('bank_accounts', 'confirmed_at')
    op.drop_constraint(op.f('ck_client_documents_category'), 'client_documents', type_='check')
    op.drop_column('client_documents', 'category')
