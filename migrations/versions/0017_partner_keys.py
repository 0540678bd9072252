"""partner API keys: scopes, a per-key rate limit, test mode (a test-mode copy of a group)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('api_keys', sa.Column('mode', sa.String(length=4), server_default='live', nullable=False))
    op.add_column('api_keys', sa.Column('scopes', postgresql.ARRAY(sa.String(length=40)), nullable=True))
    op.add_column('api_keys', sa.Column('rate_limit_per_minute', sa.Integer(), nullable=True))
    op.create_check_constraint(op.f('ck_api_keys_mode'), 'api_keys', "mode IN ('live', 'test')")
    op.add_column('groups', sa.Column('live_group_id', sa.Uuid(), nullable=True))
    op.create_foreign_key(
        'fk_groups_live_group_id_groups', 'groups', 'groups', ['live_group_id'], ['id'], ondelete='CASCADE'
    )
    # The unique constraint is the foreign key's index too.
    op.create_unique_constraint('uq_groups_live_group_id', 'groups', ['live_group_id'])


def downgrade() -> None:
    op.drop_constraint('uq_groups_live_group_id', 'groups', type_='unique')
    op.drop_constraint('fk_groups_live_group_id_groups', 'groups', type_='foreignkey')
    op.drop_column('groups', 'live_group_id')
    op.drop_constraint(op.f('ck_api_keys_mode'), 'api_keys', type_='check')
    op.drop_column('api_keys', 'rate_limit_per_minute')
    op.drop_column('api_keys', 'scopes')
    op.drop_column('api_keys', 'mode')
