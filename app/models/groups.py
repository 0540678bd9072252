"""Group practices, who belongs to them (G1-G5), and how admin rights are granted (G4)."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class Group(Base):
    """A practice, with its practice-wide settings (the admin column of the capability table)."""

    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint("intake_session_minutes BETWEEN 15 AND 240", name="intake_session_minutes"),
        CheckConstraint("session_reminder_hours BETWEEN 1 AND 168", name="session_reminder_hours"),
        CheckConstraint(
            "client_age_min IS NULL OR client_age_max IS NULL OR client_age_min <= client_age_max", name="age_range"
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    # IANA name: every rule that speaks of days (pay periods, cancellation windows) uses it.
    time_zone: Mapped[str] = mapped_column(String(64), server_default="America/New_York")
    created_at: Mapped[datetime] = stamped_now()
    shown_in_search: Mapped[bool] = mapped_column(Boolean, server_default=text("true"), default=True)
    intake_session_minutes: Mapped[int] = mapped_column(SmallInteger, server_default="60", default=60)
    client_age_min: Mapped[int | None] = mapped_column(SmallInteger)
    client_age_max: Mapped[int | None] = mapped_column(SmallInteger)
    booking_preferences: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", default=dict)
    contact_email: Mapped[str | None] = mapped_column(String(320))
    contact_phone: Mapped[str | None] = mapped_column(String(32))
    # A6: the owner and admins act as such only once they have two-factor sign-in.
    require_two_factor_for_admins: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    # S12: how long before a session its client is reminded of it.
    session_reminder_hours: Mapped[int] = mapped_column(SmallInteger, server_default="24", default=24)
    # X7: set on a group's test-mode copy (what `ck_test_` keys act on); NULL for every live group.
    live_group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), unique=True, default=None
    )


class Membership(Base):
    """A person's place in a group. Ended memberships stay: history remains readable (G6).

    The owner holds every admin capability without `is_admin` being set (G2).
    """

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
        CheckConstraint("is_owner OR is_admin OR is_provider OR ended_at IS NOT NULL", name="has_role"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    is_owner: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    is_provider: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    created_at: Mapped[datetime] = stamped_now()
    ended_at: Mapped[datetime | None] = timestamp()
    ended_reason: Mapped[str | None] = mapped_column(String(500))


class AdminGrant(Base):
    """G4: admin rights for a person, effective only once the owner consented and the account is verified."""

    __tablename__ = "admin_grants"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_approval', 'pending_verification', 'active', 'rejected', 'revoked')", name="status"
        ),
        # One open grant per person and group: a second request finds the first.
        Index(
            "uq_admin_grants_open",
            "group_id",
            "user_id",
            unique=True,
            postgresql_where=text("status IN ('pending_approval', 'pending_verification', 'active')"),
        ),
        Index("ix_admin_grants_user_id_status", "user_id", "status"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    requested_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = stamped_now()
    decided_at: Mapped[datetime | None] = timestamp()
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    activated_at: Mapped[datetime | None] = timestamp()
    reason: Mapped[str | None] = mapped_column(String(500))


class CancellationPolicy(Base):
    """Versioned: a session is judged by the version in force when it was booked (S4)."""

    __tablename__ = "cancellation_policies"
    __table_args__ = (
        CheckConstraint("window_hours BETWEEN 0 AND 168", name="window_hours"),
        CheckConstraint("fee_cents >= 0", name="fee_cents"),
        Index("ix_cancellation_policies_group_id_effective_from", "group_id", "effective_from"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    window_hours: Mapped[int] = mapped_column(Integer)
    fee_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), server_default="USD", default="USD")
    effective_from: Mapped[datetime] = timestamp(nullable=False)
    created_at: Mapped[datetime] = stamped_now()
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
