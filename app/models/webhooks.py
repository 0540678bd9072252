"""Webhooks (X3): a group's endpoints, the events that happened in it, and their deliveries.

Events are written in the transaction of the change they describe (app/webhooks/events.py), one delivery
row per subscribed endpoint with them; the worker's dispatcher sends deliveries after commit.
"""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk

DELIVERY_STATUSES = ("pending", "succeeded", "failed")


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), server_default="", default="")
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    # The signing secret, encrypted at rest; during a rotation the previous one signs too until it expires.
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None] = timestamp()
    # Sustained failure disables the endpoint: consecutive failed attempts, and since when.
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    failing_since: Mapped[datetime | None] = timestamp()
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = stamped_now()
    updated_at: Mapped[datetime] = stamped_now()


class WebhookEvent(Base):
    """What happened: ids and the names of the changed fields, never their values (no PHI)."""

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_object_sequence", "object_id", "sequence"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[uuid.UUID] = mapped_column()
    # 1, 2, 3... per object: a receiver orders the events of one object by it (deliveries may arrive out of order).
    sequence: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = stamped_now()


class WebhookDelivery(Base):
    """One event for one endpoint: its attempts so far and the last one's outcome."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        # The dispatcher's scan: only pending rows, by when they are due.
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), server_default="pending", default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    next_attempt_at: Mapped[datetime] = stamped_now()
    # A dispatcher holds a claimed delivery until then; one that died lets it go when the lease ends.
    lease_until: Mapped[datetime | None] = timestamp()
    last_attempt_at: Mapped[datetime | None] = timestamp()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_response_excerpt: Mapped[str | None] = mapped_column(String(500))
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = stamped_now()
    delivered_at: Mapped[datetime | None] = timestamp()
