"""Practice money and identity settings: rates, the payout bank account, identity verification.

Secrets (account numbers, tax ids, dates of birth) are stored encrypted (core/crypto.py); only
their last four characters are kept in clear, for display.
"""

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.base import stamped_now, timestamp, uuid_pk


class Rate(Base):
    """What a session pays (P6, C6): per service code, for the group or one provider, in integer cents."""

    __tablename__ = "rates"
    __table_args__ = (
        # A provider's own rate overrides the group's default (provider_user_id NULL) for that code.
        Index(
            "uq_rates_group_provider_code",
            "group_id",
            "provider_user_id",
            "service_code",
            unique=True,
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("private_pay_cents >= 0 AND insurance_cents >= 0", name="amounts"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    provider_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    service_code: Mapped[str] = mapped_column(String(10))
    private_pay_cents: Mapped[int] = mapped_column(Integer)
    insurance_cents: Mapped[int] = mapped_column(Integer)  # the insurance contracted rate
    currency: Mapped[str] = mapped_column(String(3), server_default="USD", default="USD")
    updated_at: Mapped[datetime] = stamped_now()


class BankAccount(Base):
    """P1: where a group's payouts go (the owner's account)."""

    __tablename__ = "bank_accounts"
    __table_args__ = (CheckConstraint("account_type IN ('checking', 'savings')", name="account_type"),)

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    account_holder_name: Mapped[str] = mapped_column(String(200))
    routing_number: Mapped[str] = mapped_column(String(9))
    account_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    account_last4: Mapped[str] = mapped_column(String(4))
    account_type: Mapped[str] = mapped_column(String(10))
    updated_at: Mapped[datetime] = stamped_now()
    updated_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # P8: the row here is the account in force; it got here only through the owner's confirmation.
    confirmed_at: Mapped[datetime] = stamped_now()


class BankAccountChange(Base):
    """P8: a new or changed payout account, held until the owner confirms it through a mailed single-use link.

    The account in force (`bank_accounts`) keeps receiving payouts meanwhile. One change waits per group:
    a newer one supersedes it. Rows are kept as the history of every change.
    """

    __tablename__ = "bank_account_changes"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending_owner_confirmation', 'confirmed', 'refused', 'superseded')", name="status"
        ),
        Index(
            "uq_bank_account_changes_pending",
            "group_id",
            unique=True,
            postgresql_where=text("status = 'pending_owner_confirmation'"),
        ),
        Index("ix_bank_account_changes_group_id_requested_at", "group_id", "requested_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    account_holder_name: Mapped[str] = mapped_column(String(200))
    routing_number: Mapped[str] = mapped_column(String(9))
    account_number_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    account_last4: Mapped[str] = mapped_column(String(4))
    account_type: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(30), server_default="pending_owner_confirmation", default="pending_owner_confirmation")
    # The mailed link's secret, stored only as its SHA-256 (core/tokens.py).
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    requested_at: Mapped[datetime] = stamped_now()
    requested_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = timestamp()
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class IdentityVerification(Base):
    """P2: the tax identity payouts and 1099 totals are under; staff verify or reject it."""

    __tablename__ = "identity_verifications"
    __table_args__ = (CheckConstraint("status IN ('pending', 'verified', 'rejected')", name="status"),)

    group_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    date_of_birth_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    tax_id_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    tax_id_last4: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(10), server_default=text("'pending'"))
    submitted_at: Mapped[datetime] = stamped_now()
    submitted_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = timestamp()
    decided_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
