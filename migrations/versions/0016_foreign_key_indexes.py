"""an index on every foreign key: deleting a referenced row (an account, a client record) finds its referencing
rows by index, not by scanning the table once per row (undo of a 100,000-client import)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 20:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, partial): a mostly-empty column gets an index of its non-null values only.
_INDEXES = [
    ('admin_grants', 'decided_by_user_id', True),
    ('admin_grants', 'group_id', False),
    ('admin_grants', 'requested_by_user_id', True),
    ('api_keys', 'created_by_user_id', True),
    ('bank_account_changes', 'decided_by_user_id', True),
    ('bank_account_changes', 'requested_by_user_id', True),
    ('bank_accounts', 'updated_by_user_id', True),
    ('cancellation_policies', 'created_by_user_id', True),
    ('client_documents', 'group_id', False),
    ('client_documents', 'uploaded_by_user_id', True),
    ('client_imports', 'finalized_by_user_id', True),
    ('client_imports', 'provider_user_id', False),
    ('client_imports', 'uploaded_by_user_id', True),
    ('clients', 'created_by_user_id', True),
    ('conversations', 'provider_user_id', False),
    ('earning_lines', 'client_id', False),
    ('earning_lines', 'provider_user_id', False),
    ('identity_verifications', 'decided_by_user_id', True),
    ('identity_verifications', 'submitted_by_user_id', True),
    ('import_mappings', 'saved_by_user_id', True),
    ('invitations', 'invited_by_user_id', True),
    ('memberships', 'group_id', False),
    ('messages', 'sender_user_id', False),
    ('provider_profiles', 'user_id', False),
    ('rates', 'provider_user_id', True),
    ('roster_entries', 'added_by_user_id', True),
    ('roster_entries', 'archived_by_user_id', True),
    ('roster_entries', 'provider_user_id', False),
    ('sessions', 'cancellation_policy_id', True),
    ('sessions', 'cancelled_by_user_id', True),
    ('sessions', 'confirmed_by_user_id', True),
    ('sessions', 'created_by_user_id', True),
    ('sessions', 'location_id', True),
    ('sessions', 'no_show_by_user_id', True),
    ('sessions', 'provider_user_id', False),
]


def upgrade() -> None:
    for table, column, partial in _INDEXES:
        op.create_index(op.f(f'ix_{table}_{column}'), table, [column],
                        postgresql_where=sa.text(f'{column} IS NOT NULL') if partial else None)


def downgrade() -> None:
    for table, column, _ in reversed(_INDEXES):
        op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
