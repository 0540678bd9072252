"""imports of real files: middle names kept, problems per row and column, parse progress

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0014'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable / with a default: no rewrite of the existing rows.
    op.add_column('import_rows', sa.Column('middle_name', sa.String(length=100), nullable=True))
    op.add_column('import_rows', sa.Column('problems', postgresql.JSONB(astext_type=sa.Text()),
                                           server_default='[]', nullable=False))
    op.add_column('client_imports', sa.Column('bytes_done', sa.BigInteger(), server_default='0', nullable=False))
    op.add_column('client_imports', sa.Column('rows_read', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    op.drop_column('client_imports', 'rows_read')
    op.drop_column('client_imports', 'bytes_done')
    op.drop_column('import_rows', 'problems')
    op.drop_column('import_rows', 'middle_name')
