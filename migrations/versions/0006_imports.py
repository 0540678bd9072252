"""imports: uploaded client files and their analysed rows (I1-I11)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('client_imports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('provider_user_id', sa.Uuid(), nullable=False),
    sa.Column('uploaded_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('storage_key', sa.String(length=300), nullable=False),
    sa.Column('password_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=12), server_default='queued', nullable=False),
    sa.Column('format', sa.String(length=40), nullable=True),
    sa.Column('container', sa.String(length=10), nullable=True),
    sa.Column('rows_total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rows_done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('warnings', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('failure_code', sa.String(length=40), nullable=True),
    sa.Column('failure_detail', sa.String(length=1000), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('analyzed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finalize_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finalized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finalized_by_user_id', sa.Uuid(), nullable=True),
    sa.Column('send_welcome_email', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'analyzing', 'ready', 'failed', 'finalizing', 'finalized')", name=op.f('ck_client_imports_status')),
    sa.CheckConstraint('rows_done <= rows_total', name=op.f('ck_client_imports_progress')),
    sa.ForeignKeyConstraint(['finalized_by_user_id'], ['users.id'], name=op.f('fk_client_imports_finalized_by_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_client_imports_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['provider_user_id'], ['users.id'], name=op.f('fk_client_imports_provider_user_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['uploaded_by_user_id'], ['users.id'], name=op.f('fk_client_imports_uploaded_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_imports'))
    )
    op.create_index('ix_client_imports_group_id_created_at', 'client_imports', ['group_id', 'created_at'], unique=False)
    op.create_table('import_rows',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('import_id', sa.Uuid(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('source_ref', sa.String(length=200), nullable=False),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('email_key', sa.String(length=320, collation='C'), nullable=True),
    sa.Column('phone_e164', sa.String(length=20), nullable=True),
    sa.Column('classification', sa.String(length=10), nullable=False),
    sa.Column('badges', postgresql.ARRAY(sa.String(length=40)), server_default='{}', nullable=False),
    sa.Column('invalid_reason', sa.String(length=200), nullable=True),
    sa.Column('candidate_client_ids', postgresql.ARRAY(sa.Uuid()), server_default='{}', nullable=False),
    sa.Column('matched_client_id', sa.Uuid(), nullable=True),
    sa.Column('selected', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('documents', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=True),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("classification IN ('new', 'existing', 'uncertain', 'invalid')", name=op.f('ck_import_rows_classification')),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('imported', 'linked', 'skipped')", name=op.f('ck_import_rows_outcome')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_import_rows_client_id_clients'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['import_id'], ['client_imports.id'], name=op.f('fk_import_rows_import_id_client_imports'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['matched_client_id'], ['clients.id'], name=op.f('fk_import_rows_matched_client_id_clients'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_rows'))
    )
    op.create_index('ix_import_rows_import_id_classification_id', 'import_rows', ['import_id', 'classification', 'id'], unique=False)
    op.create_index('ix_import_rows_import_id_id', 'import_rows', ['import_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_import_rows_import_id_id', table_name='import_rows')
    op.drop_index('ix_import_rows_import_id_classification_id', table_name='import_rows')
    op.drop_table('import_rows')
    op.drop_index('ix_client_imports_group_id_created_at', table_name='client_imports')
    op.drop_table('client_imports')
