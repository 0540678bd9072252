import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Query, Response

from app.availability import schemas, service
from app.core import clock
from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB, Reader, get_reader
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.responses import json_response
from app.core.routing import allowed, router
from app.core.schemas import InstantQuery

availability_router = router("/v1/groups/{group_id}/providers/{user_id}", "availability")
booking_settings_router = router("/v1/groups/{group_id}/booking-settings", "availability")
_ERRORS = problem_responses(401, 403, 404, 422)
_WRITE_ERRORS = problem_responses(401, 403, 404, 409, 422)


@availability_router.get(
    "/weekly-hours", summary="Read a provider's weekly hours", response_model=schemas.WeeklyHoursSet, responses=_ERRORS,
    description="The provider's working hours per weekday and place (telehealth or a practice location), as local wall "
    "times in the provider's time zone, each with the dates it is in force. Providers read their own; admins any provider's.",
    **allowed(Capability.CALENDAR),
)
async def read_weekly_hours(group_id: uuid.UUID, user_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.WeeklyHoursSet:
    return schemas.WeeklyHoursSet.model_validate(await service.read_weekly_hours(db, actor, group_id, user_id))


@availability_router.put(
    "/weekly-hours", summary="Replace a provider's weekly hours", response_model=schemas.WeeklyHoursSet, responses=_ERRORS,
    description="Sends the whole set of hours and the time zone they are in; the stored set is replaced. Each entry is a "
    "weekday, a start and end wall time (HH:MM; an end of 00:00 is midnight), a place (`location_id` of a current practice "
    "location, or null for telehealth) and `effective_from`/`effective_to` dates, so next month's hours can be entered "
    "beside this month's. Hours on a daylight-saving day follow the wall clock: that day is an hour longer or shorter.",
    **allowed(Capability.CALENDAR),
)
async def replace_weekly_hours(
    group_id: uuid.UUID, user_id: uuid.UUID, body: schemas.WeeklyHoursPut, actor: CurrentActor, db: DB
) -> schemas.WeeklyHoursSet:
    return schemas.WeeklyHoursSet.model_validate(await service.replace_weekly_hours(db, actor, group_id, user_id, body))


@availability_router.get(
    "/time-off", summary="List a provider's time off", response_model=schemas.TimeOffList, responses=_ERRORS,
    description="Time off ending after `from` (default: yesterday) and starting before `to` (default: no limit), "
    "earliest first, at most 500. All-day entries show the local dates they were given.",
    **allowed(Capability.CALENDAR),
)
async def list_time_off(
    group_id: uuid.UUID, user_id: uuid.UUID, actor: CurrentActor, db: DB,
    start: Annotated[InstantQuery | None, Query(alias="from", description="Time off ending after this instant.")] = None,
    end: Annotated[InstantQuery | None, Query(alias="to", description="...and starting before this one.")] = None,
) -> schemas.TimeOffList:
    rows = await service.list_time_off(db, actor, group_id, user_id, start, end)
    return schemas.TimeOffList(items=[schemas.TimeOffOut.model_validate(r) for r in rows])


@availability_router.post(
    "/time-off", status_code=201, summary="Add time off", response_model=schemas.TimeOffOut, dependencies=[Idempotent],
    responses=_WRITE_ERRORS,
    description="Either whole days (`first_day`, `last_day`: local dates in the provider's time zone, inclusive) or part "
    "of a day (`starts_at`, `ends_at`: instants with an offset). No slot is offered during time off; sessions already "
    "booked then stay booked (cancel them separately).",
    **allowed(Capability.CALENDAR),
)
async def add_time_off(
    group_id: uuid.UUID, user_id: uuid.UUID, body: schemas.TimeOffIn, actor: CurrentActor, db: DB
) -> schemas.TimeOffOut:
    return schemas.TimeOffOut.model_validate(await service.add_time_off(db, actor, group_id, user_id, body))


@availability_router.delete(
    "/time-off/{time_off_id}", status_code=204, summary="Remove time off", response_class=Response, responses=_ERRORS,
    description="Removes one entry of time off; its hours become bookable again.",
    **allowed(Capability.CALENDAR),
)
async def remove_time_off(group_id: uuid.UUID, user_id: uuid.UUID, time_off_id: uuid.UUID, actor: CurrentActor, db: DB) -> Response:
    await service.remove_time_off(db, actor, group_id, user_id, time_off_id)
    return Response(status_code=204)


@availability_router.get(
    "/open-slots", summary="A provider's open slots", response_model=schemas.OpenSlots, responses=_ERRORS,
    description="Slots of the kind's length (intake: the group's intake length; therapy and consultation: the booking "
    "settings) inside the provider's weekly hours, clear of their live sessions in any practice (widened by the buffer), "
    "their time off, and, with `client_id`, the client's sessions. Only slots after the minimum notice and within the "
    "booking horizon. Times are UTC; `time_zone` is the provider's, for display. With `client_id`, telehealth slots are "
    "left out where the provider holds no license in the client's telehealth state (`restrictions` says so). "
    "`to` is at most 62 days after `from`.",
    **allowed(Capability.CALENDAR),
)
async def open_slots(
    group_id: uuid.UUID, user_id: uuid.UUID, actor: CurrentActor, db: DB, reader: Annotated[Reader, Depends(get_reader)],
    start: Annotated[InstantQuery | None, Query(alias="from", description="Slots starting at or after; default: now.")] = None,
    end: Annotated[InstantQuery | None, Query(alias="to", description="...and before; default: 14 days after `from`.")] = None,
    kind: Annotated[schemas.SlotKind, Query(description="What the slot is for; sets its length.")] = "therapy",
    location: Annotated[str | None, Query(max_length=36, description="`telehealth` or a practice location id; default: every place.")] = None,
    client_id: Annotated[uuid.UUID | None, Query(description="Leave out the client's busy times and check licensure for them.")] = None,
) -> Response:
    start = start or clock.now()
    query = service.SlotQuery(start=start, end=end or start + timedelta(days=14), kind=kind, location=location, client_id=client_id)
    # Serialised directly (response_model documents it): validating and serialising a month of slots through
    # pydantic twice costs more CPU than computing them.
    return json_response(await service.open_slots(db, reader, actor, group_id, user_id, query))


@availability_router.get(
    "/licenses", summary="List a provider's licenses", response_model=schemas.LicenseList, responses=_ERRORS,
    description="The state licenses a provider recorded (type, number, state, expiry). A telehealth session needs one "
    "valid in the client's telehealth state on the session's day.",
    **allowed(Capability.PROFILE),
)
async def list_licenses(group_id: uuid.UUID, user_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.LicenseList:
    rows = await service.list_licenses(db, actor, group_id, user_id)
    return schemas.LicenseList(items=[schemas.LicenseOut.model_validate(r) for r in rows])


@availability_router.post(
    "/licenses", status_code=201, summary="Record a license", response_model=schemas.LicenseOut, dependencies=[Idempotent],
    responses=_WRITE_ERRORS,
    description="Records a license to practise in one US state. From then on telehealth sessions with clients in that "
    "state can be booked until its expiry day.",
    **allowed(Capability.PROFILE),
)
async def add_license(
    group_id: uuid.UUID, user_id: uuid.UUID, body: schemas.LicenseIn, actor: CurrentActor, db: DB
) -> schemas.LicenseOut:
    return schemas.LicenseOut.model_validate(await service.add_license(db, actor, group_id, user_id, body))


@availability_router.delete(
    "/licenses/{license_id}", status_code=204, summary="Remove a license", response_class=Response, responses=_ERRORS,
    description="Removes a recorded license (entered by mistake, or no longer held). Sessions already booked stay.",
    **allowed(Capability.PROFILE),
)
async def remove_license(group_id: uuid.UUID, user_id: uuid.UUID, license_id: uuid.UUID, actor: CurrentActor, db: DB) -> Response:
    await service.remove_license(db, actor, group_id, user_id, license_id)
    return Response(status_code=204)


@booking_settings_router.get(
    "", summary="Read the booking settings", response_model=schemas.BookingSettingsOut, responses=_ERRORS,
    description="How open slots are cut for the group: minimum notice, booking horizon, slot lengths per kind (intake "
    "from the practice settings' intake length) and the buffer kept around sessions.",
    **allowed(Capability.CALENDAR),
)
async def read_booking_settings(group_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.BookingSettingsOut:
    return schemas.BookingSettingsOut.model_validate(await service.read_booking_settings(db, actor, group_id))


@booking_settings_router.put(
    "", summary="Set the booking settings", response_model=schemas.BookingSettingsOut, responses=_ERRORS,
    description="Replaces the group's booking settings (every field). The intake length is changed in the practice "
    "settings (`intake_session_minutes`).",
    **allowed(Capability.BOOKING_SETTINGS),
)
async def put_booking_settings(
    group_id: uuid.UUID, body: schemas.BookingSettingsPut, actor: CurrentActor, db: DB
) -> schemas.BookingSettingsOut:
    return schemas.BookingSettingsOut.model_validate(await service.put_booking_settings(db, actor, group_id, body))
