import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Strict

# `accruing`: the pay period is open, the amount grows with each line recorded; `scheduled` from the pay
# date on (P7's first state), then in_transit -> paid, or failed and retried.
PayoutStatus = Literal["accruing", "scheduled", "in_transit", "paid", "failed", "needs_attention"]
LineKind = Literal["session", "late_cancellation_fee"]


class PayoutOut(BaseModel):
    """P4, P7: when it is paid, when it should arrive, where it stands."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    group_id: uuid.UUID
    period_date: date = Field(description="The pay period's date before business-day adjustment (P3).")
    pay_date: date = Field(description="The business day the payout is paid on (P4).")
    arrives_earliest: date
    arrives_latest: date = Field(description="Bank processing may add up to two business days (P4).")
    amount_cents: int = Field(description="The exact sum of the payout's lines (P6); still growing while `accruing`.")
    currency: str
    status: PayoutStatus = Field(description="`accruing` until the pay date (the period is open), then scheduled -> in_transit -> paid, or failed (the bank's reason in `failure_reason`; a paid payout the bank returns also becomes failed) and retried by the next run; after three failures `needs_attention` until staff resume it.")
    bank_account_last4: str | None = Field(description="The owner's account it was sent to (P1).")
    attempts: int
    failure_reason: str | None = Field(description="The bank's reason for a failed payout, or why it waits.")
    created_at: datetime
    sent_at: datetime | None
    paid_at: datetime | None
    failed_at: datetime | None


class Person(BaseModel):
    id: uuid.UUID
    name: str


class PayoutLineOut(BaseModel):
    id: uuid.UUID
    kind: LineKind
    session_id: uuid.UUID
    provider: Person
    client: Person
    service_code: str | None
    amount_cents: int
    currency: str = Field(description="ISO 4217 code of the amount, e.g. `USD`.", examples=["USD"])
    earned_at: datetime = Field(description="When the session was confirmed (or the late cancellation made).")
    confirmed_at: datetime | None = Field(description="The session's confirmation (P6).")


class ClinicianSubtotal(BaseModel):
    provider: Person
    amount_cents: int
    currency: str = Field(description="ISO 4217 code of the amount, e.g. `USD`.", examples=["USD"])
    line_count: int


class PayoutDetail(PayoutOut):
    lines: list[PayoutLineOut]
    subtotals: list[ClinicianSubtotal] = Field(description="Per clinician: what the group decides to pay each one (P6).")


class UpcomingPayout(BaseModel):
    """An accruing payout: what it holds so far, per clinician."""

    id: uuid.UUID
    period_date: date
    pay_date: date
    arrives_earliest: date
    arrives_latest: date
    amount_cents: int
    currency: str = Field(description="ISO 4217 code of the amount, e.g. `USD`.", examples=["USD"])
    line_count: int
    subtotals: list[ClinicianSubtotal]


class UpcomingPayouts(BaseModel):
    """The accruing payouts (pay periods still open), soonest pay date first, per clinician."""

    items: list[UpcomingPayout]
    waiting_reason: str | None = Field(
        None,
        description="Why these payouts would not leave on their pay date as things stand: no bank account on file, or a "
        "new one waiting for the owner's confirmation (starts with `pending_owner_confirmation`). Null when an "
        "account is in force.",
    )


class PaymentOut(BaseModel):
    """The payments tab: one line of money earned, the client it is for and the provider."""

    id: uuid.UUID
    kind: LineKind
    session_id: uuid.UUID
    provider: Person
    client: Person
    amount_cents: int
    currency: str
    earned_at: datetime
    payment_date: date = Field(description="The pay date of the payout holding it.")
    payout_id: uuid.UUID = Field(description="Every line belongs to a payout from the moment it is earned.")
    payout_status: PayoutStatus = Field(description="`accruing`: its payout's period is still open.")


class TaxPayee(BaseModel):
    legal_name: str
    tax_id_last4: str
    verification_status: Literal["pending", "verified", "rejected"]


class TaxSummary(BaseModel):
    """P2: a year's payouts, all under the owner's tax identity, with each clinician's share."""

    year: int
    payee: TaxPayee | None = Field(description="The owner's tax identity; null until one is submitted.")
    total_paid_cents: int
    currency: str = Field(description="ISO 4217 code of the amount, e.g. `USD`.", examples=["USD"])
    payout_count: int
    clinicians: list[ClinicianSubtotal]


class SettlementRequest(Strict):
    pay_date: date | None = Field(default=None, description="Only payouts of this pay date; default: every pay date that has come.")


class SettlementQueued(BaseModel):
    job: Literal["settle"] = "settle"
    job_id: str
    pay_date: date | None
