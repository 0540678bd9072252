import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    EmailStr,
    Field,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from app.contact import e164_phone
from app.core.schemas import Strict
from app.practice.schemas import BookingPreferences


def _phone(raw: str) -> str:
    try:
        return e164_phone(raw)
    except ValueError as refused:
        raise PydanticCustomError("phone_number", str(refused)) from None


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[str, Field(min_length=3, max_length=32), AfterValidator(_phone)]


# --- the public profile: only what a provider publishes for clients to find them --------------------


class PublicEducation(BaseModel):
    degree: str
    institution: str
    year: int | None = None


class PublicLocation(BaseModel):
    city: str
    state: str


class BookingProfile(BaseModel):
    slug: str = Field(description="The booking link's slug: /v1/booking/{slug}.")
    display_name: str
    photo_url: str | None
    license_type: str
    specializations: list[str]
    languages: list[str]
    highlights: list[str]
    bio: str | None
    education: list[PublicEducation]
    practice_name: str = Field(description="The group practice the provider belongs to.")
    locations: list[PublicLocation] = Field(description="Cities where the provider sees clients in person.")
    intake_session_minutes: int = Field(description="Length of a first (intake) session.")
    booking_preferences: BookingPreferences


# --- sign-up through the booking link (C5) ----------------------------------------------------------

_FOR_NEW_PEOPLE = "Required unless a person's bearer token is sent (then leave it out)."


class BookingSignup(Strict):
    email: EmailStr | None = Field(None, description=_FOR_NEW_PEOPLE)
    password: str | None = Field(None, min_length=12, max_length=128, description=f"At least 12 characters. {_FOR_NEW_PEOPLE}")
    first_name: Name | None = Field(None, description=_FOR_NEW_PEOPLE)
    last_name: Name | None = Field(None, description=_FOR_NEW_PEOPLE)
    phone: Phone | None = Field(None, description="E.164 (+14155550123), or a US number.")
    billing_type: Literal["insurance", "private_pay"]

    @property
    def account_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in ("email", "password", "first_name", "last_name")}


class BookingEnrolled(BaseModel):
    client_id: uuid.UUID
    group_id: uuid.UUID
    already_on_roster: bool = Field(description="The person was already this provider's client: nothing changed.")


# --- booking a first session through the link (S10) ---------------------------------------------------

LinkKind = Literal["intake", "consultation"]


class LinkSlot(BaseModel):
    starts_at: datetime = Field(description="UTC.")
    ends_at: datetime = Field(description="UTC.")
    telehealth: bool
    location_id: uuid.UUID | None


class LinkSlots(BaseModel):
    kind: LinkKind
    offered_kinds: list[LinkKind] = Field(description="What a new client may book here: a phone consultation first when the practice prefers it, and an intake.")
    slot_minutes: int
    time_zone: str = Field(description="The provider's time zone, to show the UTC times in.")
    slots: list[LinkSlot]
    restrictions: list[dict[str, Any]] = Field(description="Why telehealth slots are left out for `state`, if they are.")


class BookingRequest(BookingSignup):
    """A new client's details (or a bearer token) and one open slot."""

    starts_at: AwareDatetime = Field(description="The start of one of the open slots, with an offset or Z.")
    kind: LinkKind = Field("intake", description="`intake`, or `consultation` (a short phone call) where the practice offers it.")
    location_id: uuid.UUID | None = Field(None, description="The slot's practice location; null for telehealth.")
    telehealth_state: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        None, description="The US state you will be in for telehealth sessions (two letters)."
    )
    date_of_birth: date | None = Field(None, description="Required when the practice sees clients of certain ages only.")


class BookingBooked(BaseModel):
    session_id: uuid.UUID
    client_id: uuid.UUID
    group_id: uuid.UUID
    kind: LinkKind
    starts_at: datetime
    ends_at: datetime
    telehealth: bool
    location_id: uuid.UUID | None
