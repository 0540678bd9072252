import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field

from app.clients.readiness import ChecklistItem, Item
from app.contact import e164_phone, us_state
from app.core.schemas import Strict, omittable
from app.onboarding.schemas import InsurancePolicyIn

BillingType = Literal["insurance", "private_pay"]
InsuranceStatus = Literal["none", "on_file", "verification_pending", "verified", "failed"]
# Screening instruments that can be sent to a new client (C1).
Assessment = Literal["PHQ-9", "GAD-7", "PCL-5", "AUDIT-C", "PHQ-A", "C-SSRS", "ACE", "DAST-10", "EPDS", "MDQ"]
Phone = Annotated[str, Field(min_length=3, max_length=32), AfterValidator(e164_phone)]
UsState = Annotated[str, Field(min_length=2, max_length=2), AfterValidator(us_state)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class ClientCreate(Strict):
    first_name: Name
    last_name: Name
    email: EmailStr
    phone: Phone = Field(description="Normalised to E.164; US numbers may be given nationally.")
    billing_type: BillingType
    insurance: InsurancePolicyIn | None = Field(
        default=None, description="Your practice's copy of the client's insurance; no other practice sees it."
    )
    telehealth_state: UsState | None = Field(default=None, description="Where the client is during telehealth.")
    assessments: list[Assessment] = Field(default_factory=list, max_length=10)
    provider_id: uuid.UUID | None = Field(default=None, description="Whose roster the client joins; default: you.")
    notify: bool = Field(default=False, description="Email the client to verify, add insurance and billing, and sign the forms (C3).")


class ClientUpdate(Strict):
    """Fields left out stay as they are; only `phone` and `telehealth_state` may be cleared with null."""

    first_name: Name = omittable()
    last_name: Name = omittable()
    email: EmailStr = omittable()
    phone: Phone | None = None
    billing_type: BillingType = omittable()
    telehealth_state: UsState | None = None
    assessments: list[Assessment] = omittable(max_length=10)


class ArchiveRequest(Strict):
    provider_id: uuid.UUID | None = Field(
        default=None, description="Whose roster to archive from; needed when the client is on several."
    )


class TransferRequest(Strict):
    from_provider_id: uuid.UUID
    to_provider_id: uuid.UUID


class RosterOut(BaseModel):
    provider_user_id: uuid.UUID
    added_at: datetime
    archived_at: datetime | None


class ReadinessOut(BaseModel):
    ready: bool = Field(description="C4: sessions with this client can be confirmed.")
    items: list[ChecklistItem]
    missing: list[Item]


class InsuranceSummary(BaseModel):
    status: InsuranceStatus
    company: str | None = None
    member_id: str | None = Field(default=None, description="Masked: only the last four characters.")


class ClientOut(BaseModel):
    id: uuid.UUID
    group_id: uuid.UUID
    user_id: uuid.UUID | None = Field(description="The person's account, shown once they accepted the invitation.")
    first_name: str
    last_name: str
    email: str
    phone: str | None
    billing_type: BillingType
    telehealth_state: str | None
    assessments: list[str]
    account_verified: bool
    consent: Literal["pending", "accepted"] = Field(
        description="pending: the person has not accepted your invitation; you see what you typed. accepted: you see "
        "what they entered themselves (name, email, insurance, billing, forms)."
    )
    created_at: datetime
    rosters: list[RosterOut]
    insurance: InsuranceSummary
    readiness: ReadinessOut


class WelcomeEmailQueued(BaseModel):
    """The welcome mail (or, for a client who has not answered the practice's invitation, that invitation
    again) is queued; it goes out within seconds."""

    client_id: uuid.UUID
    status: Literal["queued"] = "queued"
