import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.core.schemas import Strict, checked
from app.timezones import validate_time_zone

WallTime = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
UsState = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
SlotKind = Literal["intake", "therapy", "consultation"]


class WeeklyHoursIn(Strict):
    weekday: int = Field(ge=0, le=6, description="0 Monday ... 6 Sunday.")
    start: WallTime = Field(description="Local wall time the hours begin, HH:MM in the provider's time zone.")
    end: WallTime = Field(description="Local wall time they end, HH:MM; 00:00 means midnight at the end of the day.")
    location_id: uuid.UUID | None = Field(None, description="One of the provider's practice locations; null for telehealth.")
    effective_from: date = Field(description="First day these hours apply (local date).")
    effective_to: date | None = Field(None, description="Last day they apply (inclusive); null: until changed.")


class WeeklyHoursPut(Strict):
    time_zone: Annotated[str, checked(validate_time_zone, "time_zone")] = Field(
        description="The provider's IANA time zone the hours are in, e.g. America/Chicago."
    )
    hours: list[WeeklyHoursIn] = Field(max_length=200, description="The whole set; it replaces the stored one.")


class WeeklyHoursOut(BaseModel):
    id: uuid.UUID
    weekday: int
    start: str
    end: str
    location_id: uuid.UUID | None
    telehealth: bool
    effective_from: date
    effective_to: date | None


class WeeklyHoursSet(BaseModel):
    time_zone: str = Field(description="The zone the hours are in (the group's until the provider sets one).")
    hours: list[WeeklyHoursOut]


class TimeOffIn(Strict):
    """Either `first_day`/`last_day` (all-day, local dates in the provider's zone) or `starts_at`/`ends_at`."""

    first_day: date | None = Field(None, description="All-day time off from this local date...")
    last_day: date | None = Field(None, description="...to this one, inclusive.")
    starts_at: datetime | None = Field(None, description="Part of a day: from this instant (with an offset)...")
    ends_at: datetime | None = Field(None, description="...to this one.")


class TimeOffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    first_day: date | None
    last_day: date | None
    created_at: datetime


class TimeOffList(BaseModel):
    items: list[TimeOffOut]


class LicenseIn(Strict):
    state: UsState = Field(description="Two-letter US state code, e.g. CA.")
    license_type: Annotated[str, StringConstraints(min_length=2, max_length=16)] = Field(description="e.g. LCSW, LPC, PsyD.")
    number: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(description="The license number.")
    expires_on: date = Field(description="Last day the license is valid.")


class LicenseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    state: str
    license_type: str
    number: str
    expires_on: date
    created_at: datetime


class LicenseList(BaseModel):
    items: list[LicenseOut]


class BookingSettingsPut(Strict):
    minimum_notice_minutes: int = Field(ge=0, le=43200, description="No slot starts sooner than this after now.")
    horizon_days: int = Field(ge=1, le=365, description="No slot starts later than this many days from now.")
    therapy_minutes: int = Field(ge=15, le=240, description="Length of a therapy slot.")
    consultation_minutes: int = Field(ge=5, le=60, description="Length of a phone consultation slot.")
    buffer_minutes: int = Field(ge=0, le=120, description="Time kept free before and after every session.")


class BookingSettingsOut(BaseModel):
    minimum_notice_minutes: int
    horizon_days: int
    therapy_minutes: int
    consultation_minutes: int
    buffer_minutes: int
    intake_minutes: int = Field(description="Intake slot length: the group's intake session length (practice settings).")


class SlotOut(BaseModel):
    starts_at: datetime = Field(description="UTC.")
    ends_at: datetime = Field(description="UTC.")
    telehealth: bool
    location_id: uuid.UUID | None


class Restriction(BaseModel):
    code: str
    detail: str
    state: str | None = None


class OpenSlots(BaseModel):
    provider_user_id: uuid.UUID
    time_zone: str = Field(description="The provider's time zone (the slots are UTC; show them in this zone).")
    kind: SlotKind
    slot_minutes: int
    start: datetime = Field(alias="from", serialization_alias="from")
    end: datetime = Field(alias="to", serialization_alias="to")
    slots: list[SlotOut]
    restrictions: list[Restriction] = Field(
        description="Why some or all slots are left out for this client, e.g. `not_licensed_in_state` for telehealth."
    )

    model_config = ConfigDict(populate_by_name=True)
