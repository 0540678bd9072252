"""audit log readable and tamper-evident: hash chain per group, client column, query indexes, TRUNCATE refused

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NIL = "'00000000-0000-0000-0000-000000000000'::uuid"
UUID_RE = "'^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'"


def upgrade() -> None:
    op.add_column('audit_events', sa.Column('client_id', sa.Uuid(), nullable=True))
    op.add_column('audit_events', sa.Column('chain_seq', sa.BigInteger(), nullable=True))
    op.add_column('audit_events', sa.Column('hash', sa.LargeBinary(), nullable=True))
    op.create_table('audit_chain_heads',
    sa.Column('chain_key', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('chain_key', name=op.f('pk_audit_chain_heads'))
    )

    # The canonical content a row's hash covers: every column but the chain's own, as jsonb text (jsonb prints
    # keys in one order whatever the input's), the time as integer microseconds (no time zone setting in it).
    # `caseload audit verify` hashes the same text, so the definition lives in one place.
    op.execute(f"""
        CREATE FUNCTION audit_event_content(e audit_events) RETURNS bytea LANGUAGE sql STABLE AS $$
          SELECT convert_to(jsonb_build_array(
            e.id, e.group_id, floor(extract(epoch FROM e.at) * 1000000)::bigint, e.actor_user_id, e.actor_api_key_id,
            host(e.actor_ip), e.request_id, e.action, e.target_type, e.target_id, e.client_id, e.outcome, e.details
          )::text, 'UTF8')
        $$
    """)
    op.execute(f"""
        CREATE FUNCTION audit_event_client(target_type text, target_id text, details jsonb) RETURNS uuid
        LANGUAGE sql IMMUTABLE AS $$
          SELECT CASE
            WHEN target_type = 'client' AND target_id ~ {UUID_RE} THEN target_id::uuid
            WHEN details->>'client_id' ~ {UUID_RE} THEN (details->>'client_id')::uuid
          END
        $$
    """)
    # R3: each row chained to the previous one of its group. The head row's lock (taken by the upsert) is held
    # until commit, so two writers of one group take turns: the second sees the first's head once it commits.
    op.execute(f"""
        CREATE FUNCTION audit_events_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
          content bytea;
        BEGIN
          NEW.client_id := audit_event_client(NEW.target_type, NEW.target_id, NEW.details);
          content := audit_event_content(NEW);
          INSERT INTO audit_chain_heads AS h (chain_key, seq, hash)
               VALUES (coalesce(NEW.group_id, {NIL}), 1, sha256(decode(repeat('00', 32), 'hex') || content))
          ON CONFLICT (chain_key) DO UPDATE SET seq = h.seq + 1, hash = sha256(h.hash || content)
          RETURNING seq, hash INTO NEW.chain_seq, NEW.hash;
          RETURN NEW;
        END
        $$
    """)

    # Today's rows join their group's chain in id order (the append-only trigger is off for this one update).
    op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
    op.execute("UPDATE audit_events SET client_id = audit_event_client(target_type, target_id, details)")
    op.execute(f"""
        DO $$
        DECLARE r audit_events;
        BEGIN
          FOR r IN SELECT * FROM audit_events ORDER BY id LOOP
            INSERT INTO audit_chain_heads AS h (chain_key, seq, hash)
                 VALUES (coalesce(r.group_id, {NIL}), 1,
                         sha256(decode(repeat('00', 32), 'hex') || audit_event_content(r)))
            ON CONFLICT (chain_key) DO UPDATE SET seq = h.seq + 1, hash = sha256(h.hash || audit_event_content(r))
            RETURNING seq, hash INTO r.chain_seq, r.hash;
            UPDATE audit_events SET chain_seq = r.chain_seq, hash = r.hash WHERE id = r.id;
          END LOOP;
        END
        $$
    """)
    op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    op.alter_column('audit_events', 'chain_seq', nullable=False)
    op.alter_column('audit_events', 'hash', nullable=False)
    op.execute(
        "CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_chain()"
    )
    # The row trigger cannot see TRUNCATE; a statement trigger can (superusers may still switch triggers off,
    # which is what the chain check is for).
    op.execute(
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_chain_heads_no_truncate BEFORE TRUNCATE ON audit_chain_heads "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()"
    )

    op.drop_index('ix_audit_events_target', table_name='audit_events')
    op.drop_index('ix_audit_events_group_id_at', table_name='audit_events')
    op.create_index('ix_audit_events_group_at', 'audit_events', ['group_id', 'at', 'id'], unique=False)
    op.create_index('ix_audit_events_group_actor', 'audit_events', ['group_id', 'actor_user_id', 'at', 'id'],
                    unique=False)
    op.create_index('ix_audit_events_group_client', 'audit_events', ['group_id', 'client_id', 'at', 'id'],
                    unique=False, postgresql_where=sa.text('client_id IS NOT NULL'))
    op.create_index('ix_audit_events_group_target', 'audit_events',
                    ['group_id', 'target_type', 'target_id', 'at', 'id'], unique=False)
    # A rare action (e.g. `access.refused` of one kind) would otherwise be a walk of the whole group's log.
    op.create_index('ix_audit_events_group_action', 'audit_events', ['group_id', 'action', 'at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_events_group_action', table_name='audit_events')
    op.drop_index('ix_audit_events_group_target', table_name='audit_events')
    op.drop_index('ix_audit_events_group_client', table_name='audit_events')
    op.drop_index('ix_audit_events_group_actor', table_name='audit_events')
    op.drop_index('ix_audit_events_group_at', table_name='audit_events')
    op.create_index('ix_audit_events_group_id_at', 'audit_events', ['group_id', 'at'], unique=False)
    op.create_index('ix_audit_events_target', 'audit_events', ['target_type', 'target_id'], unique=False)
    op.execute("DROP TRIGGER audit_chain_heads_no_truncate ON audit_chain_heads")
    op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
    op.execute("DROP TRIGGER audit_events_chain ON audit_events")
    op.execute("DROP FUNCTION audit_events_chain()")
    op.execute("DROP FUNCTION audit_event_client(text, text, jsonb)")
    op.drop_table('audit_chain_heads')
    op.drop_column('audit_events', 'hash')
    op.drop_column('audit_events', 'chain_seq')
    op.execute("DROP FUNCTION audit_event_content(audit_events)")
    op.drop_column('audit_events', 'client_id')
