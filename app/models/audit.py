"""R2: the append-only audit log. The migration adds a trigger that refuses UPDATE and DELETE."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_group_id_at", "group_id", "at"),
        Index("ix_audit_events_target", "target_type", "target_id"),
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
    outcome: Mapped[str] = mapped_column(String(16), server_default="success")
    # Ids and field names only: never names, emails or other PHI.
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
