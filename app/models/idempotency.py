"""X2: the first response to a request sent with an `Idempotency-Key`, replayed on retries."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (
        UniqueConstraint("principal", "key"),
        Index("ix_idempotency_records_expires_at", "expires_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Keys are per caller: "user:<id>" or "api_key:<id>", so two callers never share a key space.
    principal: Mapped[str] = mapped_column(String(80))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and body: the same key with another request is refused.
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    response_headers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = stamped_now()
    expires_at: Mapped[datetime] = timestamp(nullable=False)
