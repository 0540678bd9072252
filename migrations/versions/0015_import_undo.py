"""import undo (I14): roster entries and documents tagged with their import, import rows' client ids unbound, the status `undone`, the rows' outcome `undone`, when it was undone

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = "'queued', 'analyzing', 'needs_mapping', 'ready', 'failed', 'finalizing', 'finalized'"
_OUTCOMES = "'imported', 'linked', 'skipped'"


def upgrade() -> None:
    # Which import added a roster entry or attached a document: undo removes exactly those. Nullable, no
    # default: no rewrite of the existing rows (entries and documents from before stay untagged).
    op.add_column('roster_entries', sa.Column('import_id', sa.Uuid(), nullable=True))
    op.add_column('client_documents', sa.Column('import_id', sa.Uuid(), nullable=True))
    # An import row's client ids are history, not foreign keys: deleting 100,000 client records would otherwise
    # scan import_rows (no index on those columns, on purpose) once per record for each key.
    op.drop_constraint(op.f('fk_import_rows_client_id_clients'), 'import_rows', type_='foreignkey')
    op.drop_constraint(op.f('fk_import_rows_matched_client_id_clients'), 'import_rows', type_='foreignkey')
    op.add_column('client_imports', sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True))
    op.drop_constraint(op.f('ck_client_imports_status'), 'client_imports', type_='check')
    op.create_check_constraint(op.f('ck_client_imports_status'), 'client_imports', f"status IN ({_STATUSES}, 'undone')")
    op.drop_constraint(op.f('ck_import_rows_outcome'), 'import_rows', type_='check')
    op.create_check_constraint(op.f('ck_import_rows_outcome'), 'import_rows',
                               f"outcome IS NULL OR outcome IN ({_OUTCOMES}, 'undone')")


def downgrade() -> None:
    # An undone import reads as finalized again (its rows as skipped): the older schema has no word for it.
    op.execute("UPDATE import_rows SET outcome = 'skipped' WHERE outcome = 'undone'")
    op.execute("UPDATE client_imports SET status = 'finalized' WHERE status = 'undone'")
    op.drop_constraint(op.f('ck_import_rows_outcome'), 'import_rows', type_='check')
    op.create_check_constraint(op.f('ck_import_rows_outcome'), 'import_rows', f"outcome IS NULL OR outcome IN ({_OUTCOMES})")
    op.drop_constraint(op.f('ck_client_imports_status'), 'client_imports', type_='check')
    op.create_check_constraint(op.f('ck_client_imports_status'), 'client_imports', f"status IN ({_STATUSES})")
    op.drop_column('client_imports', 'undone_at')
    op.drop_column('client_documents', 'import_id')
    op.drop_column('roster_entries', 'import_id')
    for column in ('client_id', 'matched_client_id'):
        op.execute(f"UPDATE import_rows r SET {column} = NULL WHERE {column} IS NOT NULL "
                   f"AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = r.{column})")
        op.create_foreign_key(op.f(f'fk_import_rows_{column}_clients'), 'import_rows', 'clients', [column], ['id'],
                              ondelete='SET NULL')
