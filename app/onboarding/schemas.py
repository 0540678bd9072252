import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.clients import readiness
from app.clients.readiness import ChecklistItem, Item
from app.core.schemas import Strict
from app.practice.validation import MAX_CENTS

if TYPE_CHECKING:
    from app.models import Acknowledgement, InsurancePolicy
    from app.onboarding.service import OnboardingView

MASK = "••••"
Document = Literal["billing_policy", "privacy_policy"]


def _in_the_past(born: date) -> date:
    if born >= datetime.now(UTC).date():
        raise PydanticCustomError("date_of_birth", "the date of birth must be in the past")
    if born.year < 1900:
        raise PydanticCustomError("date_of_birth", "the date of birth is before 1900; check the year")
    return born


# --- insurance ------------------------------------------------------------------------------------


class InsurancePolicyIn(Strict):
    """The whole policy: fields left out are cleared (a PUT replaces what is on file)."""

    company: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="The insurance company, as on the card."
    )
    member_id: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9-]*[A-Za-z0-9][A-Za-z0-9-]*$"
        ),
    ] = Field(description="1-40 letters, digits or dashes. Stored encrypted; only its last four are ever shown.")
    date_of_birth: Annotated[date, AfterValidator(_in_the_past)] | None = Field(
        None, description="The subscriber's date of birth (a past date). Stored encrypted; never returned."
    )
    copay_cents: int | None = Field(
        None, ge=0, le=MAX_CENTS, description="The plan's flat copay per session, integer cents."
    )
    coinsurance_percent: Decimal | None = Field(
        None,
        ge=0,
        le=100,
        max_digits=5,
        decimal_places=2,
        description="The plan's coinsurance: the share of the contracted rate the client pays, 0-100, up to 2 decimals.",
    )

    @model_validator(mode="after")
    def _one_cost_share(self) -> "InsurancePolicyIn":
        if self.copay_cents is not None and self.coinsurance_percent is not None:
            raise PydanticCustomError(
                "cost_share", "send the plan's copay_cents or its coinsurance_percent, not both"
            )
        return self

    @property
    def coinsurance_bp(self) -> int | None:
        return None if self.coinsurance_percent is None else int(self.coinsurance_percent * 100)


class InsurancePolicyOut(BaseModel):
    company: str
    member_id: str = Field(description="Masked: only the last four characters, e.g. `••••1234`.")
    date_of_birth_on_file: bool
    copay_cents: int | None
    coinsurance_percent: float | None
    currency: Literal["USD"] = "USD"
    status: Literal["on_file", "verification_pending", "verified", "failed"] = Field(
        description="`on_file` after every change: verification starts again."
    )
    updated_at: datetime

    @classmethod
    def of(cls, policy: "InsurancePolicy") -> "InsurancePolicyOut":
        return cls(
            company=policy.company,
            member_id=MASK + policy.member_id_last4,
            date_of_birth_on_file=policy.date_of_birth_encrypted is not None,
            copay_cents=policy.copay_cents,
            coinsurance_percent=None if policy.coinsurance_bp is None else policy.coinsurance_bp / 100,
            status=policy.status,  # type: ignore[arg-type]
            updated_at=policy.updated_at,
        )


# --- billing method -------------------------------------------------------------------------------


class BillingMethodIn(Strict):
    """A card as the payment processor tokenised it. Never a card number: one anywhere is refused."""

    processor_token: str = Field(
        min_length=8,
        max_length=200,
        pattern=r"^[\x21-\x7E]+$",
        description="The processor's opaque token for the card (e.g. `pm_...`, `tok_...`): 8-200 visible "
        "characters, no spaces. Never returned.",
    )
    brand: Literal["visa", "mastercard", "amex", "discover", "other"]
    last4: str = Field(pattern=r"^[0-9]{4}$", description="The card's last four digits.")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100, description="Four digits.")

    @model_validator(mode="after")
    def _not_expired(self) -> "BillingMethodIn":
        today = datetime.now(UTC).date()
        if (self.exp_year, self.exp_month) < (today.year, today.month):
            raise PydanticCustomError("card_expired", "the card has expired; add a current one")
        if self.exp_year > today.year + 20:
            raise PydanticCustomError("card_expiry", "the expiry year is more than 20 years ahead; check it")
        return self


class BillingMethodOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    updated_at: datetime


# --- acknowledgements -----------------------------------------------------------------------------


class AcknowledgementIn(Strict):
    document: Document
    version: str = Field(min_length=1, max_length=20, description="The version shown to the person: the current one.")


class AcknowledgementOut(BaseModel):
    id: uuid.UUID
    document: Document
    version: str
    acknowledged_at: datetime
    current: bool = Field(description="Whether this is the document's current version (what readiness needs).")

    @classmethod
    def of(cls, acknowledgement: "Acknowledgement") -> "AcknowledgementOut":
        return cls(
            id=acknowledgement.id,
            document=acknowledgement.document,  # type: ignore[arg-type]
            version=acknowledgement.version,
            acknowledged_at=acknowledgement.acknowledged_at,
            current=readiness.CURRENT_FORM_VERSIONS.get(acknowledgement.document) == acknowledgement.version,
        )


# --- onboarding -----------------------------------------------------------------------------------


class FormStatus(BaseModel):
    document: Document
    current_version: str = Field(description="The version to acknowledge.")
    acknowledged: bool


class ClientReadiness(BaseModel):
    group_id: uuid.UUID
    group_name: str
    client_id: uuid.UUID
    billing_type: Literal["insurance", "private_pay"]
    ready: bool = Field(description="Every checklist item is done: sessions with this group can be confirmed (C4).")
    checklist: list[ChecklistItem]
    missing: list[Item] = Field(description="The checklist items not done yet.")


class OnboardingOut(BaseModel):
    account_verified: bool
    insurance_on_file: bool = Field(description="Needed only where the person is billed through insurance.")
    billing_method_on_file: bool
    forms: list[FormStatus]
    groups: list[ClientReadiness] = Field(description="Each group the person is a client of, by name.")

    @classmethod
    def of(cls, view: "OnboardingView") -> "OnboardingOut":
        person = view.person
        return cls(
            account_verified=person.account_verified,
            insurance_on_file=person.has_insurance,
            billing_method_on_file=person.has_billing_method,
            forms=[
                FormStatus(
                    document=document,  # type: ignore[arg-type]
                    current_version=version,
                    acknowledged=(document, version) in person.acknowledged,
                )
                for document, version in view.forms.items()
            ],
            groups=[
                ClientReadiness(
                    group_id=entry.client.group_id,
                    group_name=entry.group_name,
                    client_id=entry.client.id,
                    billing_type=entry.client.billing_type,  # type: ignore[arg-type]
                    ready=entry.ready,
                    checklist=entry.checklist,
                    missing=[item.item for item in entry.checklist if not item.done],
                )
                for entry in view.groups
            ],
        )
