import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.contact import e164_phone
from app.core.schemas import Strict, checked, omittable
from app.practice import validation

if TYPE_CHECKING:
    from app.practice.service import SettingsView


Cents = Annotated[int, Field(ge=0, le=validation.MAX_CENTS, description="Integer cents (USD).")]
Phone = Annotated[str, Field(min_length=3, max_length=32), checked(e164_phone, "phone_number")]


# --- settings -------------------------------------------------------------------------------------


class BookingPreferences(BaseModel):
    default_to_phone_consults: bool = Field(False, description="New clients are offered a phone consult first.")
    appointments_by_specialization: bool = Field(
        False, description="Clients book by specialization rather than by provider."
    )


class BookingPreferencesPatch(Strict):
    """Keys sent replace the stored ones; keys left out stay as they are."""

    default_to_phone_consults: bool = omittable()
    appointments_by_specialization: bool = omittable()


class CancellationPolicyIn(Strict):
    window_hours: int = Field(
        ge=0, le=168, description="A client's cancellation fewer than this many hours before the session is late."
    )
    fee_cents: Cents = Field(description="Late-cancellation fee, integer cents; 0 for none.")
    effective_from: date = Field(
        description="The day the version takes effect, from midnight in the group's time zone. "
        "Not in the past; today means from now on."
    )


class CancellationPolicyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    window_hours: int
    fee_cents: int
    currency: str
    effective_from: datetime = Field(description="The instant (UTC) the version takes effect.")
    created_at: datetime


class SettingsPatch(Strict):
    """Fields left out stay as they are. Each field needs its own capability (see the route)."""

    shown_in_search: bool = omittable(description="Whether the group's providers appear in client search.")
    intake_session_minutes: int = omittable(ge=15, le=240, description="Default length of an intake session.")
    session_reminder_hours: int = omittable(ge=1, le=168, description="How many hours before a session its client is reminded by mail.")
    client_age_min: int | None = Field(None, ge=0, le=120, description="Youngest client accepted; null for no limit.")
    client_age_max: int | None = Field(None, ge=0, le=120, description="Oldest client accepted; null for no limit.")
    booking_preferences: BookingPreferencesPatch = omittable()
    contact_email: EmailStr | None = Field(None, description="The practice's contact address; null to clear.")
    contact_phone: Phone | None = Field(None, description="Normalised to E.164; US numbers need no +1. Null to clear.")
    cancellation_policy: CancellationPolicyIn = omittable(
        description="Appends a new version; versions already stored are never changed."
    )
    require_two_factor_for_admins: bool = omittable(
        description="The owner and admins must enrol in two-factor sign-in before their admin rights work."
    )


class BankAccountSummary(BaseModel):
    """The account payouts go to now: it was confirmed by the owner."""

    model_config = ConfigDict(from_attributes=True)

    account_holder_name: str
    account_type: Literal["checking", "savings"]
    routing_number: str
    account_last4: str = Field(description="The only part of the account number ever shown.")
    updated_at: datetime
    status: Literal["confirmed"] = "confirmed"
    confirmed_at: datetime


class BankAccountChangeOut(BaseModel):
    """A new payout account waiting for the owner, who confirms it through the link mailed to them. Until then the
    account in force (if any) keeps receiving payouts; without one, payouts wait."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_holder_name: str
    account_type: Literal["checking", "savings"]
    routing_number: str
    account_last4: str = Field(description="The only part of the account number ever shown.")
    status: Literal["pending_owner_confirmation", "confirmed", "refused", "superseded"]
    requested_at: datetime
    expires_at: datetime = Field(description="After this the link no longer works; set the account again.")


class BankConfirmationIn(Strict):
    token: str = Field(min_length=10, max_length=200, description="The token of the link mailed to the owner.")


class IdentityVerificationSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    status: Literal["pending", "verified", "rejected"]
    legal_name: str
    tax_id_last4: str = Field(description="The only part of the tax id ever shown.")
    submitted_at: datetime
    decided_at: datetime | None
    rejection_reason: str | None


class SettingsOut(BaseModel):
    group_id: uuid.UUID
    time_zone: str = Field(description="IANA name; dates in these settings are days in this zone.")
    shown_in_search: bool
    intake_session_minutes: int
    session_reminder_hours: int = Field(description="How many hours before a session its client is reminded by mail.")
    client_age_min: int | None
    client_age_max: int | None
    booking_preferences: BookingPreferences
    contact_email: str | None
    contact_phone: str | None
    require_two_factor_for_admins: bool = Field(
        description="The owner and admins act as such only once they have two-factor sign-in."
    )
    cancellation_policy: CancellationPolicyOut | None = Field(description="The version in force now.")
    upcoming_cancellation_policies: list[CancellationPolicyOut] = Field(
        description="Versions that take effect later, soonest first."
    )
    bank_account: BankAccountSummary | None = Field(
        description="Null when none is on file, or for a caller without the billing-settings capability (API keys)."
    )
    identity_verification: IdentityVerificationSummary | None = Field(
        description="Null when none was submitted, or for a caller without the billing-settings capability (API keys)."
    )
    pending_bank_account: BankAccountChangeOut | None = Field(
        None, description="A new account waiting for the owner's confirmation; null when none waits (or for API keys)."
    )

    @classmethod
    def of(cls, view: "SettingsView") -> "SettingsOut":
        group = view.group
        return cls(
            group_id=group.id,
            time_zone=group.time_zone,
            shown_in_search=group.shown_in_search,
            intake_session_minutes=group.intake_session_minutes,
            session_reminder_hours=group.session_reminder_hours,
            client_age_min=group.client_age_min,
            client_age_max=group.client_age_max,
            booking_preferences=BookingPreferences.model_validate(group.booking_preferences or {}),
            contact_email=group.contact_email,
            contact_phone=group.contact_phone,
            require_two_factor_for_admins=group.require_two_factor_for_admins,
            cancellation_policy=view.cancellation_policy,
            upcoming_cancellation_policies=view.upcoming_cancellation_policies,
            bank_account=view.bank_account,
            identity_verification=view.identity_verification,
            pending_bank_account=view.pending_bank_account,
        )


# --- rates ----------------------------------------------------------------------------------------


class RateIn(Strict):
    service_code: Annotated[str, checked(validation.service_code, "service_code")] = Field(
        description="CPT/HCPCS code, 5 letters or digits (90791, 90837, ...); stored upper-case."
    )
    provider_user_id: uuid.UUID | None = Field(
        None, description="An active provider of the group for their own rate; null for the group's default."
    )
    private_pay_cents: Cents = Field(description="What a private-pay session pays.")
    insurance_cents: Cents = Field(description="The insurance contracted rate.")


MAX_RATES = 2000


class RateCardIn(Strict):
    rates: list[RateIn] = Field(max_length=MAX_RATES, description="The whole card: rates left out are removed.")


class RateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    service_code: str
    provider_user_id: uuid.UUID | None
    private_pay_cents: int
    insurance_cents: int
    currency: str
    updated_at: datetime


class RateCardOut(BaseModel):
    rates: list[RateOut] = Field(description="Group defaults first, then each provider's overrides; by code.")


# --- bank account and identity ----------------------------------------------------------------------


class BankAccountIn(Strict):
    account_holder_name: str = Field(min_length=1, max_length=200)
    routing_number: Annotated[str, checked(validation.aba_routing_number, "routing_number")] = Field(
        description="9-digit ABA routing number; its check digit is verified."
    )
    account_number: Annotated[str, checked(validation.bank_account_number, "account_number")] = Field(
        description="4 to 17 digits. Stored encrypted; never returned (only its last four)."
    )
    account_type: Literal["checking", "savings"]


class IdentityVerificationIn(Strict):
    legal_name: str = Field(min_length=1, max_length=200)
    date_of_birth: Annotated[date, checked(validation.adult_date_of_birth, "date_of_birth")] = Field(
        description="The person must be 18 or older. Stored encrypted; never returned."
    )
    tax_id: Annotated[str, Field(max_length=20), checked(validation.tax_id, "tax_id")] = Field(
        description="SSN (123-45-6789) or EIN (12-3456789), dashes optional. Stored encrypted; only its last four are shown."
    )


class IdentityVerificationOut(BaseModel):
    status: Literal["not_submitted", "pending", "verified", "rejected"]
    legal_name: str | None = None
    tax_id_last4: str | None = None
    submitted_at: datetime | None = None
    decided_at: datetime | None = None
    rejection_reason: str | None = None


class IdentityDecisionIn(Strict):
    decision: Literal["verified", "rejected"]
    reason: str | None = Field(
        None, min_length=1, max_length=500, description="Required when rejecting (shown to the group); not sent when verifying."
    )

    @model_validator(mode="after")
    def _reason_goes_with_rejection(self) -> "IdentityDecisionIn":
        if self.decision == "rejected" and not (self.reason and self.reason.strip()):
            raise PydanticCustomError("reason_required", "a rejection needs a reason the group can act on")
        if self.decision == "verified" and self.reason is not None:
            raise PydanticCustomError("reason_not_allowed", "a reason is only recorded for a rejection")
        return self
