"""Money owed to groups for confirmed sessions and late cancellations, and its payouts (P1-P7).

Integer cents only. The database makes a second earning line for a session, or a second payout for
a group and pay period, impossible (P5).
"""

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class EarningLine(Base):
    """One line per confirmed session, and one per late-cancellation fee (P6)."""

    __tablename__ = "earning_lines"
    __table_args__ = (
        Index("uq_earning_lines_session_id_kind", "session_id", "kind", unique=True),
        CheckConstraint("kind IN ('session', 'late_cancellation_fee')", name="kind"),
        CheckConstraint("amount_cents >= 0", name="amount_cents"),
        # A payout's lines: its detail, and settlement's check that its amount is their exact sum.
        Index("ix_earning_lines_payout_id", "payout_id"),
        Index("ix_earning_lines_group_id_earned_at", "group_id", "earned_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="RESTRICT"))
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sessions.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(24))
    provider_user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clients.id", ondelete="RESTRICT"))
    service_code: Mapped[str | None] = mapped_column(String(10))
    billing_type: Mapped[str | None] = mapped_column(String(12))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), server_default="USD", default="USD")
    # The confirmation (or late cancellation) instant, and the P3/P4 dates it gives.
    earned_at: Mapped[datetime] = timestamp(nullable=False)
    period_date: Mapped[date] = mapped_column(Date)
    pay_date: Mapped[date] = mapped_column(Date)
    # Known when the line is recorded: its group's accruing payout for the line's period (or, if that
    # payout has already left, the group's next accruing one; app/payouts/earnings.py).
    payout_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payouts.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = stamped_now()


class Payout(Base):
    """P1, P5, P7: one per group and pay period, paid to the owner's bank account.

    A running balance: created `accruing` with the period's first line, its amount grows with each
    line recorded (in the line's transaction) until settlement, on the pay date, makes it `scheduled`
    and checks the amount against the sum of its lines (P6).
    """

    __tablename__ = "payouts"
    __table_args__ = (
        Index("uq_payouts_group_id_period_date", "group_id", "period_date", unique=True),
        CheckConstraint("status IN ('accruing', 'scheduled', 'in_transit', 'paid', 'failed', 'needs_attention')", name="status"),
        CheckConstraint("amount_cents >= 0", name="amount_cents"),
        # A payout row is updated once per line recorded (its running amount) and once per state
        # (accruing -> scheduled -> in_transit -> paid). No index covers `status` or `amount_cents`,
        # and pages keep room, so these are HOT updates (no index entry written): settlement's
        # close, send and poll steps each cost a heap write per payout, not three index inserts.
        # Settlement finds its payouts by a scan (close) and by primary key (send, poll).
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="RESTRICT"))
    period_date: Mapped[date] = mapped_column(Date)
    pay_date: Mapped[date] = mapped_column(Date)
    arrives_earliest: Mapped[date] = mapped_column(Date)
    arrives_latest: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), server_default="USD", default="USD")
    status: Mapped[str] = mapped_column(String(16), server_default="accruing", default="accruing")
    bank_account_last4: Mapped[str | None] = mapped_column(String(4))
    transfer_reference: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0", default=0)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    # P9: failed transfers and returns after paid; at MAX_FAILURES the payout waits in `needs_attention`.
    failures: Mapped[int] = mapped_column(SmallInteger, server_default="0", default=0)
    created_at: Mapped[datetime] = stamped_now()
    updated_at: Mapped[datetime] = stamped_now()
    sent_at: Mapped[datetime | None] = timestamp()
    paid_at: Mapped[datetime | None] = timestamp()
    failed_at: Mapped[datetime | None] = timestamp()
