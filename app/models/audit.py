"""R2, R3: the append-only, hash-chained audit log.

The migration adds the triggers: UPDATE, DELETE and TRUNCATE are refused, and every INSERT is chained
(BEFORE INSERT: the row's `chain_seq` and `hash` come from its group's chain head, row-locked until commit,
so concurrent writers of one group take turns and the chain has no fork). Application code never sets them.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # R3's reads: a group's events newest first, optionally by actor, client or object; each a keyset
        # range scan in (at, id) order, so a page costs the same on a group of a million events.
        Index("ix_audit_events_group_at", "group_id", "at", "id"),
        Index("ix_audit_events_group_actor", "group_id", "actor_user_id", "at", "id"),
        Index("ix_audit_events_group_client", "group_id", "client_id", "at", "id",
              postgresql_where=text("client_id IS NOT NULL")),
        Index("ix_audit_events_group_target", "group_id", "target_type", "target_id", "at", "id"),
        Index("ix_audit_events_group_action", "group_id", "action", "at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = stamped_now()
    actor_user_id: Mapped[uuid.UUID | None]
    actor_api_key_id: Mapped[uuid.UUID | None]
    actor_ip: Mapped[str | None] = mapped_column(INET)
    request_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    group_id: Mapped[uuid.UUID | None]
    # The client the event is about (the target when it is a client, else details.client_id): set by the
    # insert trigger, so every writer (ORM, hand-written SQL) fills it the same way.
    client_id: Mapped[uuid.UUID | None]
    outcome: Mapped[str] = mapped_column(String(16), server_default="success")
    # Ids and field names only: never names, emails or other PHI.
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    # Position in the group's chain (1, 2, ...; events without a group form one chain of their own) and
    # sha256(previous row's hash || this row's canonical content): set by the insert trigger.
    chain_seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditChainHead(Base):
    """The last link of each chain: locked by every insert of its group until commit (one writer at a time)."""

    __tablename__ = "audit_chain_heads"

    # The group id; the nil UUID for events without a group.
    chain_key: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
