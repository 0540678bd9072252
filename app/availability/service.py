"""Availability (S9), licenses (S13) and the group's booking settings; open slots from them.

Open slots take one statement whatever the range (app/availability/queries.py: provider, settings, weekly
hours, sessions and time off), and one more for a license when the client's state is known; the slots
themselves are cut by the pure `app.availability.slots`.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.availability import slots as pure
from app.availability.queries import LICENSE_EXPIRY_SQL, OPEN_SLOTS_SQL
from app.availability.schemas import BookingSettingsPut, LicenseIn, SlotKind, TimeOffIn, WeeklyHoursPut
from app.clients.access import visible_clients
from app.core import audit, clock
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import Problem, not_found
from app.models import (
    BookingSettings,
    Client,
    Group,
    Membership,
    PracticeLocation,
    ProviderAvailability,
    ProviderLicense,
    ProviderProfile,
    TimeOff,
    WeeklyHours,
)

DEFAULTS = {"minimum_notice_minutes": 1440, "horizon_days": 60, "therapy_minutes": 50, "consultation_minutes": 15,
            "buffer_minutes": 0}
MAX_RANGE = timedelta(days=62)
# Longer than any slot (240 minutes) plus twice the longest buffer (120): busy time this far outside the range counts.
_MARGIN = timedelta(hours=8)


def _invalid(field: str, message: str) -> Problem:
    return Problem(422, "validation_failed", "Some fields are missing or invalid; see `errors`.",
                   title="Unprocessable Content", errors=[{"field": field, "message": message}])


async def _provider(db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID) -> tuple[str, str | None]:
    """(group zone, provider zone or None) of an active provider of the group; 404 otherwise."""
    row = (
        await db.execute(
            select(Group.time_zone, ProviderAvailability.time_zone)
            .select_from(ProviderProfile)
            .join(Group, Group.id == ProviderProfile.group_id)
            .join(Membership, and_(Membership.group_id == ProviderProfile.group_id, Membership.user_id == ProviderProfile.user_id,
                                   Membership.is_provider, Membership.ended_at.is_(None)))
            .outerjoin(ProviderAvailability, and_(ProviderAvailability.group_id == ProviderProfile.group_id,
                                                  ProviderAvailability.provider_user_id == ProviderProfile.user_id))
            .where(ProviderProfile.group_id == group_id, ProviderProfile.user_id == user_id)
        )
    ).first()
    if row is None:
        raise not_found("provider")
    return row[0], row[1]


# --- weekly hours ----------------------------------------------------------------------------------


def _hours_out(row: WeeklyHours) -> dict[str, Any]:
    return {"id": row.id, "weekday": row.weekday, "start": row.start_time.strftime("%H:%M"), "end": row.end_time.strftime("%H:%M"),
            "location_id": row.location_id, "telehealth": row.location_id is None,
            "effective_from": row.effective_from, "effective_to": row.effective_to}


async def read_weekly_hours(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> dict[str, Any]:
    require(actor, Capability.CALENDAR, group_id, provider_user_id=user_id)
    group_zone, zone = await _provider(db, group_id, user_id)
    rows = (await db.scalars(
        select(WeeklyHours).where(WeeklyHours.group_id == group_id, WeeklyHours.provider_user_id == user_id)
        .order_by(WeeklyHours.effective_from, WeeklyHours.weekday, WeeklyHours.start_time)
    )).all()
    return {"time_zone": zone or group_zone, "hours": [_hours_out(r) for r in rows]}


def _wall(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


async def replace_weekly_hours(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, body: WeeklyHoursPut
) -> dict[str, Any]:
    require(actor, Capability.CALENDAR, group_id, provider_user_id=user_id)
    await _provider(db, group_id, user_id)
    for i, item in enumerate(body.hours):
        start, end = _wall(item.start), _wall(item.end)
        if end != time(0) and end <= start:
            raise _invalid(f"body.hours.{i}.end", "must be after start (00:00 for midnight)")
        if item.effective_to is not None and item.effective_to < item.effective_from:
            raise _invalid(f"body.hours.{i}.effective_to", "must be on or after effective_from")
    locations = {h.location_id for h in body.hours if h.location_id is not None}
    if locations:
        found = set((await db.scalars(select(PracticeLocation.id).where(
            PracticeLocation.id.in_(locations), PracticeLocation.group_id == group_id,
            PracticeLocation.provider_user_id == user_id, PracticeLocation.archived_at.is_(None),
        ))).all())
        for i, item in enumerate(body.hours):
            if item.location_id is not None and item.location_id not in found:
                raise _invalid(f"body.hours.{i}.location_id", "not a current practice location of the provider")
    await db.execute(
        pg_insert(ProviderAvailability)
        .values(group_id=group_id, provider_user_id=user_id, time_zone=body.time_zone)
        .on_conflict_do_update(index_elements=["group_id", "provider_user_id"],
                               set_={"time_zone": body.time_zone, "updated_at": func.now()})
    )
    await db.execute(delete(WeeklyHours).where(WeeklyHours.group_id == group_id, WeeklyHours.provider_user_id == user_id))
    db.add_all(
        WeeklyHours(group_id=group_id, provider_user_id=user_id, weekday=h.weekday, start_time=_wall(h.start),
                    end_time=_wall(h.end), location_id=h.location_id, effective_from=h.effective_from,
                    effective_to=h.effective_to)
        for h in body.hours
    )
    await db.flush()
    await audit.record(db, actor, "availability.weekly_hours_set", target_type="provider", target_id=user_id,
                       group_id=group_id, count=len(body.hours))
    return await read_weekly_hours(db, actor, group_id, user_id)


# --- time off --------------------------------------------------------------------------------------


async def list_time_off(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, start: datetime | None, end: datetime | None
) -> list[TimeOff]:
    require(actor, Capability.CALENDAR, group_id, provider_user_id=user_id)
    await _provider(db, group_id, user_id)
    start = start or clock.now() - timedelta(days=1)
    stmt = select(TimeOff).where(TimeOff.group_id == group_id, TimeOff.provider_user_id == user_id, TimeOff.ends_at > start)
    if end is not None:
        stmt = stmt.where(TimeOff.starts_at < end)
    return list((await db.scalars(stmt.order_by(TimeOff.starts_at).limit(500))).all())


async def add_time_off(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, body: TimeOffIn) -> TimeOff:
    require(actor, Capability.CALENDAR, group_id, provider_user_id=user_id)
    group_zone, zone = await _provider(db, group_id, user_id)
    days = body.first_day is not None or body.last_day is not None
    instants = body.starts_at is not None or body.ends_at is not None
    if days == instants:
        raise _invalid("body", "send either first_day and last_day (all-day) or starts_at and ends_at (part of a day)")
    if days:
        if body.first_day is None or body.last_day is None:
            raise _invalid("body.last_day" if body.last_day is None else "body.first_day", "required with the other day")
        if body.last_day < body.first_day:
            raise _invalid("body.last_day", "must be on or after first_day")
        if (body.last_day - body.first_day).days > 366:
            raise _invalid("body.last_day", "at most a year of time off at once")
        starts_at, ends_at = pure.all_day(body.first_day, body.last_day, zone or group_zone)
    else:
        if body.starts_at is None or body.ends_at is None:
            raise _invalid("body.ends_at" if body.ends_at is None else "body.starts_at", "required with the other instant")
        if body.starts_at.tzinfo is None or body.ends_at.tzinfo is None:
            raise _invalid("body.starts_at", "give an offset, e.g. 2027-03-10T09:00:00-05:00")
        starts_at, ends_at = body.starts_at.astimezone(UTC), body.ends_at.astimezone(UTC)
        if ends_at <= starts_at:
            raise _invalid("body.ends_at", "must be after starts_at")
    row = TimeOff(group_id=group_id, provider_user_id=user_id, starts_at=starts_at, ends_at=ends_at, all_day=days,
                  first_day=body.first_day, last_day=body.last_day, created_by_user_id=actor.user_id)
    db.add(row)
    await db.flush()
    await db.refresh(row)
    await audit.record(db, actor, "availability.time_off_added", target_type="time_off", target_id=row.id, group_id=group_id,
                       provider_user_id=str(user_id))
    return row


async def remove_time_off(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, time_off_id: uuid.UUID) -> None:
    require(actor, Capability.CALENDAR, group_id, provider_user_id=user_id)
    await _provider(db, group_id, user_id)
    gone = await db.scalar(delete(TimeOff).where(TimeOff.id == time_off_id, TimeOff.group_id == group_id,
                                                 TimeOff.provider_user_id == user_id).returning(TimeOff.id))
    if gone is None:
        raise not_found("time off")
    await audit.record(db, actor, "availability.time_off_removed", target_type="time_off", target_id=time_off_id,
                       group_id=group_id, provider_user_id=str(user_id))


# --- licenses (S13) --------------------------------------------------------------------------------


async def list_licenses(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID) -> list[ProviderLicense]:
    require(actor, Capability.PROFILE, group_id, provider_user_id=user_id)
    await _provider(db, group_id, user_id)
    return list((await db.scalars(select(ProviderLicense).where(
        ProviderLicense.group_id == group_id, ProviderLicense.provider_user_id == user_id,
    ).order_by(ProviderLicense.state, ProviderLicense.expires_on))).all())


async def add_license(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, body: LicenseIn) -> ProviderLicense:
    require(actor, Capability.PROFILE, group_id, provider_user_id=user_id)
    await _provider(db, group_id, user_id)
    row = ProviderLicense(group_id=group_id, provider_user_id=user_id, **body.model_dump())
    db.add(row)
    await db.flush()
    await db.refresh(row)
    await audit.record(db, actor, "provider.license_added", target_type="license", target_id=row.id, group_id=group_id,
                       provider_user_id=str(user_id), state=row.state)
    return row


async def remove_license(db: AsyncSession, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, license_id: uuid.UUID) -> None:
    require(actor, Capability.PROFILE, group_id, provider_user_id=user_id)
    await _provider(db, group_id, user_id)
    gone = await db.scalar(delete(ProviderLicense).where(
        ProviderLicense.id == license_id, ProviderLicense.group_id == group_id, ProviderLicense.provider_user_id == user_id,
    ).returning(ProviderLicense.id))
    if gone is None:
        raise not_found("license")
    await audit.record(db, actor, "provider.license_removed", target_type="license", target_id=license_id,
                       group_id=group_id, provider_user_id=str(user_id))


# --- booking settings ------------------------------------------------------------------------------


async def booking_settings(db: AsyncSession, group_id: uuid.UUID) -> dict[str, Any]:
    row = (await db.execute(
        select(Group.intake_session_minutes, BookingSettings).outerjoin(BookingSettings, BookingSettings.group_id == Group.id)
        .where(Group.id == group_id)
    )).first()
    if row is None:
        raise not_found("group")
    stored = row[1]
    values = dict(DEFAULTS) if stored is None else {k: getattr(stored, k) for k in DEFAULTS}
    return {**values, "intake_minutes": row[0]}


async def read_booking_settings(db: AsyncSession, actor: Actor, group_id: uuid.UUID) -> dict[str, Any]:
    require(actor, Capability.CALENDAR, group_id)
    return await booking_settings(db, group_id)


async def put_booking_settings(db: AsyncSession, actor: Actor, group_id: uuid.UUID, body: BookingSettingsPut) -> dict[str, Any]:
    require(actor, Capability.BOOKING_SETTINGS, group_id)
    values = body.model_dump()
    await db.execute(pg_insert(BookingSettings).values(group_id=group_id, **values)
                     .on_conflict_do_update(index_elements=["group_id"], set_={**values, "updated_at": func.now()}))
    await audit.record(db, actor, "group.booking_settings_set", target_type="group", target_id=group_id, group_id=group_id,
                       fields=sorted(values))
    return await booking_settings(db, group_id)


# --- open slots (S9) -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotQuery:
    start: datetime
    end: datetime
    kind: SlotKind
    location: str | None  # "telehealth", a location id, or None for every place
    client_id: uuid.UUID | None = None
    state: str | None = None  # the client's telehealth state, when there is no client record yet (the booking link)


def slot_minutes(kind: str, settings: dict[str, Any]) -> int:
    return {"intake": settings["intake_minutes"], "therapy": settings["therapy_minutes"],
            "consultation": settings["consultation_minutes"]}[kind]


async def compute_open_slots(conn: Any, group_id: uuid.UUID, provider_id: uuid.UUID, query: SlotQuery) -> dict[str, Any]:
    """Open slots of an active provider of the group (404 otherwise), read by one statement on `conn` (an asyncpg
    connection or the reader pool: anything with `fetchrow`)."""
    if query.end <= query.start:
        raise _invalid("query.to", "must be after `from`")
    if query.end - query.start > MAX_RANGE:
        raise _invalid("query.to", f"at most {MAX_RANGE.days} days after `from`")
    location_id: uuid.UUID | None = None
    if query.location not in (None, "telehealth"):
        try:
            location_id = uuid.UUID(query.location)
        except ValueError:
            raise _invalid("query.location", "`telehealth` or one of the provider's location ids") from None
    # Busy time is read a margin wider than the range: a session just outside still blocks a slot (and its buffer).
    row = await conn.fetchrow(OPEN_SLOTS_SQL, group_id, provider_id, query.start - _MARGIN, query.end + _MARGIN, query.client_id)
    if row is None:
        raise not_found("provider")
    settings = {k: DEFAULTS[k] if row[k] is None else row[k] for k in DEFAULTS} | {"intake_minutes": row["intake_minutes"]}
    zone = row["provider_zone"] or row["group_zone"]
    minutes = slot_minutes(query.kind, settings)
    telehealth_only = query.kind == "consultation" or query.location == "telehealth"
    hours = [
        pure.WeeklyHours(weekday, start, end, place, first, last)
        for weekday, start, end, place, first, last in zip(
            row["weekdays"] or (), row["starts"] or (), row["ends"] or (), row["locations"] or (), row["froms"] or (),
            row["tos"] or (), strict=True)
        if (place is None if telehealth_only else location_id is None or place == location_id)
    ]
    now = clock.now()
    rules = pure.Rules(slot_minutes=minutes, buffer_minutes=settings["buffer_minutes"],
                       earliest=now + timedelta(minutes=settings["minimum_notice_minutes"]),
                       latest=now + timedelta(days=settings["horizon_days"]))
    found = pure.open_slots(hours, zone, start=query.start, end=query.end, rules=rules,
                            sessions=list(zip(row["session_starts"] or (), row["session_ends"] or (), strict=True)),
                            time_off=list(zip(row["off_starts"] or (), row["off_ends"] or (), strict=True)))
    restrictions = []
    state = row["client_state"] or query.state
    if state is not None and query.kind != "consultation" and any(s.location_id is None for s in found):
        expiry = await conn.fetchval(LICENSE_EXPIRY_SQL, group_id, provider_id, state)
        group_tz = ZoneInfo(row["group_zone"])
        kept = [s for s in found if s.location_id is not None
                or (expiry is not None and s.starts_at.astimezone(group_tz).date() <= expiry)]
        if len(kept) != len(found):
            restrictions.append({"code": "not_licensed_in_state", "state": state,
                                 "detail": f"Telehealth slots are left out where the provider holds no license valid in {state}, "
                                           "the client's telehealth state."})
        found = kept
    return {
        "provider_user_id": provider_id, "time_zone": zone, "kind": query.kind, "slot_minutes": minutes,
        "from": query.start, "to": query.end, "restrictions": restrictions,
        "slots": [{"starts_at": s.starts_at, "ends_at": s.ends_at, "telehealth": s.location_id is None,
                   "location_id": s.location_id} for s in found],
    }


async def open_slots(
    db: AsyncSession, reader: Any, actor: Actor, group_id: uuid.UUID, user_id: uuid.UUID, query: SlotQuery
) -> dict[str, Any]:
    """The route's read: on the reader pool (no ORM session) unless a client is named and must be checked visible."""
    grant = require(actor, Capability.CALENDAR, group_id, provider_user_id=user_id)
    if query.client_id is not None:
        visible = await db.scalar(select(Client.id).where(Client.id == query.client_id, *visible_clients(grant)))
        if visible is None:
            raise not_found("client")
    return await compute_open_slots(reader, group_id, user_id, query)
