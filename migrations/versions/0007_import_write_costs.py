"""import write costs: room for HOT updates of import rows; one index fewer per client record

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Review (selection) and finalize (outcome, client) update every row of an import; no index
    # covers those columns, so with room on the page each update is HOT. Pages written from now on
    # keep the room; rows already stored are left as they are.
    op.execute('ALTER TABLE import_rows SET (fillfactor = 50)')
    # The unique (user_id, group_id) serves the lookups by user_id that ix_clients_user_id served
    # (a person's records; the foreign key from users), so that index goes.
    op.create_unique_constraint(op.f('uq_clients_user_id_group_id'), 'clients', ['user_id', 'group_id'])
    op.drop_constraint(op.f('uq_clients_group_id_user_id'), 'clients', type_='unique')
    op.drop_index('ix_clients_user_id', table_name='clients')


def downgrade() -> None:
    op.create_index('ix_clients_user_id', 'clients', ['user_id'], unique=False)
    op.create_unique_constraint(op.f('uq_clients_group_id_user_id'), 'clients', ['group_id', 'user_id'])
    op.drop_constraint(op.f('uq_clients_user_id_group_id'), 'clients', type_='unique')
    op.execute('ALTER TABLE import_rows RESET (fillfactor)')
