"""Group practices and who belongs to them (G1-G5)."""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    # IANA name: every rule that speaks of days (pay periods, cancellation windows) uses it.
    time_zone: Mapped[str] = mapped_column(String(64), server_default="America/New_York")
    created_at: Mapped[datetime] = stamped_now()


class Membership(Base):
    """A person's place in a group. Ended memberships stay: history remains readable (G6)."""

    __tablename__ = "memberships"
    __table_args__ = (
        Index(
            "uq_memberships_group_id_user_id_active",
            "group_id",
            "user_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        # G2: exactly one owner; "at most one" is the database's part, "at least one" the service's.
        Index(
            "uq_memberships_one_owner",
            "group_id",
            unique=True,
            postgresql_where=text("is_owner AND ended_at IS NULL"),
        ),
        CheckConstraint("is_owner OR is_admin OR is_provider", name="has_role"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_owner: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    is_provider: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    created_at: Mapped[datetime] = stamped_now()
    ended_at: Mapped[datetime | None] = timestamp()
