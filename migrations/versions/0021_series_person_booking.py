"""sessions: recurring series (S11), the client side of the overlap rule held per person across practices (S7),
and what the client's own side and session mail need (C11, S12)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "status NOT IN ('cancelled', 'late_cancelled')"


def upgrade() -> None:
    # S7, C8: the person's account, only once they accepted the practice's invitation (NULL before): a practice
    # the person never accepted must not learn, from a refused booking, that they have therapy elsewhere.
    op.add_column('sessions', sa.Column('client_user_id', sa.Uuid(), nullable=True))
    op.add_column('sessions', sa.Column('series_id', sa.Uuid(), nullable=True))
    # Sessions booked before S7 may overlap another practice's session of the same person: both stay unlinked
    # (held per client record only) rather than fail the migration.
    op.execute("""
        UPDATE sessions s SET client_user_id = c.user_id
          FROM clients c
         WHERE c.id = s.client_id AND c.consented_at IS NOT NULL
           AND (s.status IN ('cancelled', 'late_cancelled') OR NOT EXISTS (
               SELECT 1 FROM sessions o JOIN clients oc ON oc.id = o.client_id AND oc.consented_at IS NOT NULL
                WHERE oc.user_id = c.user_id AND o.client_id <> s.client_id
                  AND o.status NOT IN ('cancelled', 'late_cancelled')
                  AND o.starts_at < s.ends_at AND o.ends_at > s.starts_at))
    """)
    op.create_foreign_key(op.f('fk_sessions_client_user_id_users'), 'sessions', 'users', ['client_user_id'], ['id'],
                          ondelete='RESTRICT')
    # S7: every writer (booking, series, demo data, tests) gets the person from the client record; nobody passes it.
    # Accepting an invitation later fills in the practice's existing sessions (app.invitations.service).
    op.execute("""
        CREATE FUNCTION sessions_client_user() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.client_user_id := (SELECT user_id FROM clients WHERE id = NEW.client_id AND consented_at IS NOT NULL);
            RETURN NEW;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER sessions_client_user BEFORE INSERT OR UPDATE OF client_id ON sessions
        FOR EACH ROW EXECUTE FUNCTION sessions_client_user()
    """)
    # S2 stays per client record (ex_sessions_client_overlap, migration 0004); S7 adds the person across
    # practices. NULLs never conflict, so a pending record is held only by S2.
    op.execute(f"ALTER TABLE sessions ADD CONSTRAINT ex_sessions_person_overlap EXCLUDE USING gist "
               f"(uuid_inet(client_user_id) inet_ops WITH =, tstzrange(starts_at, ends_at) WITH &&) WHERE ({_LIVE})")
    op.create_index('ix_sessions_client_user_id_starts_at', 'sessions', ['client_user_id', 'starts_at'], unique=False)
    op.create_index('ix_sessions_series_id_starts_at', 'sessions', ['series_id', 'starts_at'], unique=False,
                    postgresql_where=sa.text('series_id IS NOT NULL'))

    # C11: a document the practice shares with the client (never a psychotherapy note: checked).
    op.add_column('client_documents', sa.Column('shared_with_client', sa.Boolean(), server_default=sa.text('false'),
                                                nullable=False))
    op.create_check_constraint(op.f('ck_client_documents_shared'), 'client_documents',
                               "NOT (shared_with_client AND category IN ('psychotherapy_note', 'message'))")

    # S12: the reminder's lead time per group, a person's opt-out, and each notice sent once per session and kind.
    op.add_column('groups', sa.Column('session_reminder_hours', sa.SmallInteger(), server_default='24', nullable=False))
    op.create_check_constraint(op.f('ck_groups_session_reminder_hours'), 'groups', 'session_reminder_hours BETWEEN 1 AND 168')
    op.add_column('users', sa.Column('session_reminders', sa.Boolean(), server_default=sa.text('true'), nullable=False))
    op.create_table(
        'session_notices',
        sa.Column('session_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("kind IN ('booked', 'moved', 'cancelled', 'reminder')", name=op.f('ck_session_notices_kind')),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_notices_session_id_sessions'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('session_id', 'kind', name=op.f('pk_session_notices')),
    )


def downgrade() -> None:
    op.drop_table('session_notices')
    op.drop_column('users', 'session_reminders')
    op.drop_constraint(op.f('ck_groups_session_reminder_hours'), 'groups', type_='check')
    op.drop_column('groups', 'session_reminder_hours')
    op.drop_constraint(op.f('ck_client_documents_shared'), 'client_documents', type_='check')
    op.drop_column('client_documents', 'shared_with_client')
    op.drop_index('ix_sessions_series_id_starts_at', table_name='sessions', postgresql_where=sa.text('series_id IS NOT NULL'))
    op.drop_index('ix_sessions_client_user_id_starts_at', table_name='sessions')
    op.execute('ALTER TABLE sessions DROP CONSTRAINT ex_sessions_person_overlap')
    op.execute("DROP TRIGGER sessions_client_user ON sessions")
    op.execute("DROP FUNCTION sessions_client_user()")
    op.drop_constraint(op.f('fk_sessions_client_user_id_users'), 'sessions', type_='foreignkey')
    op.drop_column('sessions', 'series_id')
    op.drop_column('sessions', 'client_user_id')
