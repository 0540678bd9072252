import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Strict

PayoutStatus = Literal["scheduled", "in_transit", "paid", "failed"]
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
    amount_cents: int = Field(description="The exact sum of the payout's lines (P6).")
    currency: str
    status: PayoutStatus
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
    earned_at: datetime = Field(description="When the session was confirmed (or the late cancellation made).")
    confirmed_at: datetime | None = Field(description="The session's confirmation (P6).")


class ClinicianSubtotal(BaseModel):
    provider: Person
    amount_cents: int
    line_count: int


class PayoutDetail(PayoutOut):
    lines: list[PayoutLineOut]
    subtotals: list[ClinicianSubtotal] = Field(description="Per clinician: what the group decides to pay each one (P6).")


class UpcomingPayout(BaseModel):
    period_date: date
    pay_date: date
    arrives_earliest: date
    arrives_latest: date
    amount_cents: int
    line_count: int
    subtotals: list[ClinicianSubtotal]


class UpcomingPayouts(BaseModel):
    """What has accrued and is not yet in a payout, per pay date (soonest first) and clinician."""

    items: list[UpcomingPayout]


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
    payment_date: date = Field(description="The pay date of the payout holding it, or the one it is scheduled for.")
    payout_id: uuid.UUID | None
    payout_status: PayoutStatus | Literal["pending"] = Field(description="`pending`: not yet in a payout.")


class TaxPayee(BaseModel):
    legal_name: str
    tax_id_last4: str
    verification_status: Literal["pending", "verified", "rejected"]


class TaxSummary(BaseModel):
    """P2: a year's payouts, all under the owner's tax identity, with each clinician's share."""

    year: int
    payee: TaxPayee | None = Field(description="The owner's tax identity; null until one is submitted.")
    total_paid_cents: int
    payout_count: int
    clinicians: list[ClinicianSubtotal]


class SettlementRequest(Strict):
    pay_date: date | None = Field(default=None, description="Only payouts of this pay date; default: every pay date that has come.")


class SettlementQueued(BaseModel):
    job: Literal["settle"] = "settle"
    job_id: str
    pay_date: date | None
