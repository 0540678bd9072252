"""imports of real files: middle names kept, problems per row and column, parse progress, column mapping

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable / with a default: no rewrite of the existing rows.
    op.add_column('import_rows', sa.Column('middle_name', sa.String(length=100), nullable=True))
    op.add_column('import_rows', sa.Column('problems', postgresql.JSONB(astext_type=sa.Text()),
                                           server_default='[]', nullable=False))
    op.add_column('client_imports', sa.Column('bytes_done', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('client_imports', sa.Column('rows_read', sa.Integer(), server_default='0', nullable=False))
    op.add_column('client_imports', sa.Column('columns', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('client_imports', sa.Column('mapping', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.alter_column('client_imports', 'status', type_=sa.String(length=16), existing_nullable=False,
                    existing_server_default='queued')
    op.drop_constraint(op.f('ck_client_imports_status'), 'client_imports', type_='check')
    op.create_check_constraint(
        op.f('ck_client_imports_status'), 'client_imports',
        "status IN ('queued', 'analyzing', 'needs_mapping', 'ready', 'failed', 'finalizing', 'finalized')",
    )
    op.create_table(
        'import_mappings',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('group_id', sa.Uuid(), nullable=False),
        sa.Column('header_key', sa.String(length=64), nullable=False),
        sa.Column('mapping', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('saved_by_user_id', sa.Uuid(), nullable=True),
        sa.Column('saved_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_import_mappings_group_id_groups'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['saved_by_user_id'], ['users.id'],
                                name=op.f('fk_import_mappings_saved_by_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_mappings')),
        sa.UniqueConstraint('group_id', 'header_key', name=op.f('uq_import_mappings_group_id_header_key')),
    )


def downgrade() -> None:
    op.drop_table('import_mappings')
    # An import waiting for its mapping cannot exist under the old states: it failed, as it used to.
    op.execute("UPDATE client_imports SET status = 'failed', failure_code = 'missing_columns', "
               "failure_detail = 'The file needs the columns First Name, Last Name.' WHERE status = 'needs_mapping'")
    op.drop_constraint(op.f('ck_client_imports_status'), 'client_imports', type_='check')
    op.create_check_constraint(
        op.f('ck_client_imports_status'), 'client_imports',
        "status IN ('queued', 'analyzing', 'ready', 'failed', 'finalizing', 'finalized')",
    )
    op.alter_column('client_imports', 'status', type_=sa.String(length=12), existing_nullable=False,
                    existing_server_default='queued')
    op.drop_column('client_imports', 'mapping')
    op.drop_column('client_imports', 'columns')
    op.drop_column('client_imports', 'rows_read')
    op.drop_column('client_imports', 'bytes_done')
    op.drop_column('import_rows', 'problems')
    op.drop_column('import_rows', 'middle_name')
