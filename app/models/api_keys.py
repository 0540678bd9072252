"""Partner API keys (A3): scoped to one group, shown once, stored only as a hash."""

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint("mode IN ('live', 'test')", name="mode"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first characters of the key, so people can tell their keys apart; not enough to use one.
    display_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = stamped_now()
    last_used_at: Mapped[datetime | None] = timestamp()
    revoked_at: Mapped[datetime | None] = timestamp()
    # X7. `test` keys act on the group's test-mode copy (groups.live_group_id), never on live data.
    mode: Mapped[str] = mapped_column(String(4), server_default="live", default="live")
    # X7. `read` and/or capability names; NULL for keys made before scopes existed (they keep what keys had).
    scopes: Mapped[list[str] | None] = mapped_column(ARRAY(String(40)))
    # X7. Requests per minute; NULL takes the API_KEY_RATE_LIMIT_DEFAULT setting.
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
