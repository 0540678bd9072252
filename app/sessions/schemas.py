import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from app.core.schemas import Strict, checked, omittable
from app.sessions import rules

Kind = Literal["intake", "therapy", "consultation"]  # consultation: a short phone call, never billed
Status = Literal["scheduled", "confirmed", "cancelled", "late_cancelled", "no_show"]
Minutes = Annotated[int, Field(ge=5, le=480)]
ServiceCode = Annotated[str, Field(min_length=5, max_length=10), checked(rules.normalize_service_code, "service_code")]
DiagnosisCode = Annotated[str, Field(min_length=3, max_length=10), checked(rules.normalize_diagnosis_code, "diagnosis_code")]


class SessionCreate(Strict):
    provider_id: uuid.UUID | None = Field(default=None, description="Whose calendar; default: you.")
    client_id: uuid.UUID = Field(description="A client on that provider's active roster.")
    starts_at: AwareDatetime = Field(description="With an offset or Z; stored and returned in UTC.")
    duration_minutes: Minutes | None = Field(
        default=None,
        description=f"Default: the group's intake length for an intake, {rules.DEFAULT_THERAPY_MINUTES} minutes for therapy.",
    )
    kind: Kind = "therapy"
    telehealth: bool | None = Field(default=None, description="`true` for telehealth; otherwise give `location_id`.")
    location_id: uuid.UUID | None = Field(default=None, description="One of the provider's practice locations.")

    @model_validator(mode="after")
    def _one_place(self) -> "SessionCreate":
        if (self.location_id is None) == (self.telehealth is not True):
            raise ValueError("give either `telehealth: true` or a `location_id`, not both or neither")
        return self


class Repeat(Strict):
    """How a series recurs (S11): every week or every two weeks, a count or an end date (one of the two)."""

    every_weeks: Literal[1, 2] = Field(description="1: weekly; 2: every two weeks.")
    count: int | None = Field(default=None, ge=2, le=52, description="How many sessions in all, the first included (2-52).")
    until: date | None = Field(
        default=None, description="The last day a session may fall on, in the group's time zone (at most 364 days after the first)."
    )

    @model_validator(mode="after")
    def _count_or_until(self) -> "Repeat":
        if (self.count is None) == (self.until is None):
            raise ValueError("give either `count` or `until`, not both or neither")
        return self


class SeriesCreate(SessionCreate):
    """The first session, as for a single booking, and how it repeats; its wall-clock time is kept in the group's zone."""

    repeat: Repeat


Scope = Literal["this", "following", "all"]


class SessionUpdate(Strict):
    """A scheduled session: move it (start, duration, place). A confirmed one: correct its details for 48 hours."""

    starts_at: AwareDatetime = omittable()
    duration_minutes: Minutes = omittable()
    telehealth: bool = omittable(description="`true` moves the session to telehealth.")
    location_id: uuid.UUID = omittable(description="Moves the session to this practice location.")
    service_date: date = omittable(description="A confirmed session's: its local date in the group's time zone.")
    service_code: ServiceCode = omittable()
    diagnosis_code: DiagnosisCode = omittable()

    @model_validator(mode="after")
    def _one_place(self) -> "SessionUpdate":
        if self.location_id is not None and self.telehealth:
            raise ValueError("give either `telehealth: true` or a `location_id`, not both")
        if self.telehealth is False and self.location_id is None:
            raise ValueError("to see the client in person, give a `location_id`")
        return self


class ConfirmRequest(Strict):
    service_date: date | None = Field(default=None, description="Default: the session's day in the group's time zone.")
    duration_minutes: Minutes | None = Field(default=None, description="Default: the session's.")
    service_code: ServiceCode = Field(description="CPT code, e.g. 90837.")
    diagnosis_code: DiagnosisCode = Field(description="ICD-10 code, e.g. F41.1.")


class CancelRequest(Strict):
    by: Literal["client", "provider"] = Field(description="Who cancels: a client's late cancellation carries the policy's fee (S4).")
    reason: str | None = Field(default=None, max_length=500)


class ConfirmationOut(BaseModel):
    confirmed_at: datetime
    service_date: date
    service_code: str
    diagnosis_code: str
    pay_date: date = Field(description="The business day this session is paid on (S6, P3/P4).")
    arrives_earliest: date
    arrives_latest: date
    editable_until: datetime = Field(description="Corrections are accepted until then (48 hours after confirmation).")


class CancellationOut(BaseModel):
    cancelled_at: datetime
    by: Literal["client", "provider"]
    reason: str | None
    late_cancellation_fee_cents: int | None
    currency: str = Field(description="ISO 4217 code of the fee, e.g. `USD`.", examples=["USD"])


class SessionOut(BaseModel):
    id: uuid.UUID
    group_id: uuid.UUID
    provider_user_id: uuid.UUID
    client_id: uuid.UUID
    kind: Kind
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    telehealth: bool
    location_id: uuid.UUID | None
    status: Status
    created_at: datetime
    confirmation: ConfirmationOut | None
    cancellation: CancellationOut | None
    no_show_at: datetime | None
    series_id: uuid.UUID | None = Field(description="Shared by the sessions of a recurring series; null for a single booking.")
    client_name: str | None = Field(None, description="The client's name as the practice keeps it; in calendar lists only.")


class SeriesOut(BaseModel):
    series_id: uuid.UUID
    sessions: list[SessionOut] = Field(description="Every occurrence, in order.")


class MyCancellationOut(BaseModel):
    cancelled_at: datetime
    by: Literal["client", "provider"]
    late_cancellation_fee_cents: int | None
    currency: str = Field(description="ISO 4217 code of the fee, e.g. `USD`.", examples=["USD"])


class MySessionOut(BaseModel):
    """A session as its client sees it (C11): when, with whom, where, its state; never codes."""

    id: uuid.UUID
    group_id: uuid.UUID
    practice_name: str
    provider_user_id: uuid.UUID
    provider_name: str
    kind: Kind
    starts_at: datetime
    ends_at: datetime
    duration_minutes: int
    telehealth: bool
    location_id: uuid.UUID | None
    status: Status
    series_id: uuid.UUID | None
    cancellable_until: datetime | None = Field(
        description="A scheduled session can be cancelled here until then; later, contact the provider (a late cancellation carries a fee)."
    )
    cancellation: MyCancellationOut | None


class MyCancelRequest(Strict):
    reason: str | None = Field(default=None, max_length=500, description="Shown to the practice.")


class RemindersIn(Strict):
    enabled: bool = Field(description="`false`: no reminder mails before your sessions (booking, move and cancellation mails still come).")


class RemindersOut(BaseModel):
    enabled: bool
