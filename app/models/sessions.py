"""Therapy sessions on providers' calendars (S1-S6).

Named `TherapySession` in code because "session" is also SQLAlchemy's word; the table is `sessions`.
Sessions are never deleted (S4): every change is a status transition, stamped and audited.
"""

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, FetchedValue, ForeignKey, Index, Integer, SmallInteger, String, Uuid, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk

# Sessions that hold their slot: a cancelled session frees it (S2).
LIVE_SESSION = "status NOT IN ('cancelled', 'late_cancelled')"


def _no_overlap(column: str, name: str) -> ExcludeConstraint:
    # S2 in the database itself. `uuid_inet` (migration 0004) maps a uuid losslessly onto an IPv6
    # address, so the built-in GiST inet_ops can compare it with `=`: the embedded PostgreSQL has
    # no btree_gist. Ranges are half-open, so back-to-back sessions do not overlap.
    return ExcludeConstraint(
        (text(f"uuid_inet({column}) inet_ops"), "="),
        (text("tstzrange(starts_at, ends_at)"), "&&"),
        name=name,
        using="gist",
        where=text(LIVE_SESSION),
    )


class TherapySession(Base):
    __tablename__ = "sessions"
    __table_args__ = (
        _no_overlap("provider_user_id", "ex_sessions_provider_overlap"),
        # S2: per client record; S7: per person (their account) across practices, once they accepted the
        # practice (client_user_id is NULL before, and NULLs never conflict).
        _no_overlap("client_id", "ex_sessions_client_overlap"),
        _no_overlap("client_user_id", "ex_sessions_person_overlap"),
        CheckConstraint(
            "status IN ('scheduled', 'confirmed', 'cancelled', 'late_cancelled', 'no_show')", name="status"
        ),
        CheckConstraint("kind IN ('intake', 'therapy', 'consultation')", name="kind"),
        CheckConstraint("duration_minutes BETWEEN 5 AND 480", name="duration_minutes"),
        CheckConstraint("ends_at = starts_at + make_interval(mins => duration_minutes)", name="ends_at"),
        CheckConstraint("telehealth = (location_id IS NULL)", name="where"),
        CheckConstraint("cancelled_by IS NULL OR cancelled_by IN ('client', 'provider')", name="cancelled_by"),
        CheckConstraint("late_cancellation_fee_cents IS NULL OR late_cancellation_fee_cents >= 0", name="fee"),
        CheckConstraint("(status = 'confirmed') = (confirmed_at IS NOT NULL)", name="confirmed"),
        Index("ix_sessions_group_provider_starts_at", "group_id", "provider_user_id", "starts_at"),
        Index("ix_sessions_group_starts_at", "group_id", "starts_at"),
        Index("ix_sessions_client_id_starts_at", "client_id", "starts_at"),
        # C11: a person's own sessions across practices; also the foreign key's index.
        Index("ix_sessions_client_user_id_starts_at", "client_user_id", "starts_at"),
        # S11: the occurrences of a series in order ("this and following").
        Index("ix_sessions_series_id_starts_at", "series_id", "starts_at", postgresql_where=text("series_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    provider_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    # S7: the client record's account, copied by the database on insert (trigger `sessions_client_user`,
    # migration 0021) from clients.user_id, so no writer can get it wrong or leave it out. NULL until the person
    # accepted the practice's invitation (C8): then set by app.invitations.service.
    client_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), server_default=FetchedValue()
    )
    # S11: the occurrences booked together share it; a tag, not a foreign key (the series is its sessions).
    series_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = timestamp(nullable=False)
    duration_minutes: Mapped[int] = mapped_column(SmallInteger)
    ends_at: Mapped[datetime] = timestamp(nullable=False)
    telehealth: Mapped[bool] = mapped_column()
    location_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("practice_locations.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), server_default="scheduled", default="scheduled")
    # S4: a late cancellation is judged by the policy in force when the session was booked.
    cancellation_policy_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cancellation_policies.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime] = stamped_now()
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = stamped_now()
    # S3: the confirmed details (correctable for 48 hours after confirmed_at, then locked).
    confirmed_at: Mapped[datetime | None] = timestamp()
    confirmed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    service_date: Mapped[date | None] = mapped_column(Date)
    service_code: Mapped[str | None] = mapped_column(String(10))
    diagnosis_code: Mapped[str | None] = mapped_column(String(10))
    # S6, P3/P4: the pay period (unadjusted date) and the business day it is paid on.
    period_date: Mapped[date | None] = mapped_column(Date)
    pay_date: Mapped[date | None] = mapped_column(Date)
    # S4
    cancelled_at: Mapped[datetime | None] = timestamp()
    cancelled_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_by: Mapped[str | None] = mapped_column(String(10))
    cancellation_reason: Mapped[str | None] = mapped_column(String(500))
    late_cancellation_fee_cents: Mapped[int | None] = mapped_column(Integer)
    no_show_at: Mapped[datetime | None] = timestamp()
    no_show_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class SessionNotice(Base):
    """S12: a mail about a session, by kind, recorded in the transaction that writes it: the primary key makes a
    second sending (a rerun of the reminder job, a second worker) insert nothing and so mail nothing."""

    __tablename__ = "session_notices"
    __table_args__ = (CheckConstraint("kind IN ('booked', 'moved', 'cancelled', 'reminder')", name="kind"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    sent_at: Mapped[datetime] = stamped_now()
