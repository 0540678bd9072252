"""Booking a first session through a provider's link (S10), with the practice's booking settings (age range,
phone consultations first, intake length) and licensure (S13).

Races: each booking takes a per-provider transaction lock before it checks the slot, so of N people asking
for one slot the first books it and the others find it gone: 409 `slot_taken` with the next open slots.
The exclusion constraints on sessions (S2) stay the last word against bookings made by the practice.
A person who is not logged in gets the same 202 whether their email is new (account made, slot booked,
verification mailed) or has an account (mailed to log in and book): the answer never tells which (A10).
"""

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import send_verification
from app.availability import service as availability
from app.availability.licensure import check_telehealth_license, license_expiry, not_licensed
from app.booking import service as booking
from app.booking.ratelimit import count_in_window
from app.booking.schemas import BookingRequest
from app.clients.service import enroll
from app.config import Settings
from app.core import audit, clock
from app.core.auth import Actor
from app.core.db import driver_connection
from app.core.errors import Problem, conflict
from app.models import TherapySession
from app.practice.service import cancellation_policy_at
from app.sessions import service as sessions

NEXT_SLOTS = 5


def offered_kinds(found: booking.Bookable) -> list[str]:
    """A phone consultation comes first where the practice prefers it; an intake is always offered."""
    prefers_phone = bool((found.group.booking_preferences or {}).get("default_to_phone_consults"))
    return ["consultation", "intake"] if prefers_phone else ["intake"]


def _kind(found: booking.Bookable, kind: str | None) -> str:
    kinds = offered_kinds(found)
    if kind is None:
        return kinds[0]
    if kind not in kinds:
        raise Problem(422, "kind_not_offered", "This practice does not offer phone consultations through its link: book an intake.",
                      errors=[{"field": "body.kind", "message": f"one of {', '.join(kinds)}"}])
    return kind


async def link_slots(
    db: AsyncSession, slug: str, *, start: datetime | None, end: datetime | None, kind: str | None, location: str | None,
    state: str | None,
) -> dict[str, Any]:
    found = await booking.bookable(db, slug)
    chosen = _kind(found, kind)
    start = start or clock.now()
    query = availability.SlotQuery(start=start, end=end or start + timedelta(days=14), kind=chosen,  # type: ignore[arg-type]
                                   location=location, state=state)
    result = await availability.compute_open_slots(await driver_connection(db), found.group.id, found.profile.user_id, query)
    return {**result, "offered_kinds": offered_kinds(found)}


def _age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _check_age(found: booking.Bookable, born: date | None, today: date) -> None:
    """The practice's client age range, when it has one: a refusal that names it."""
    low, high = found.group.client_age_min, found.group.client_age_max
    if low is None and high is None:
        return
    described = f"{low} to {high}" if low is not None and high is not None else (f"{low} and older" if low is not None else f"up to {high}")
    if born is None:
        raise Problem(422, "date_of_birth_required", f"This practice sees clients aged {described}: give your date of birth.",
                      errors=[{"field": "body.date_of_birth", "message": "required by this practice's age range"}],
                      age_min=low, age_max=high)
    age = _age_on(born, today)
    if (low is not None and age < low) or (high is not None and age > high):
        raise Problem(422, "outside_age_range",
                      f"This practice sees clients aged {described} only. Look for a practice that sees clients of your age.",
                      errors=[{"field": "body.date_of_birth", "message": f"outside the ages {described}"}],
                      age_min=low, age_max=high)


async def _lock_provider(db: AsyncSession, provider_id: uuid.UUID) -> None:
    key = int.from_bytes(hashlib.sha256(b"booking-link\0" + provider_id.bytes).digest()[:8], "big", signed=True)
    await db.execute(select(func.pg_advisory_xact_lock(key)))


def _utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _slot_taken(db: AsyncSession, found: booking.Bookable, body: BookingRequest, kind: str, state: str | None) -> Problem:
    location = str(body.location_id) if body.location_id else "telehealth"
    later = availability.SlotQuery(start=body.starts_at, end=body.starts_at + timedelta(days=28), kind=kind,  # type: ignore[arg-type]
                                   location=location, state=state)
    upcoming = (await availability.compute_open_slots(await driver_connection(db), found.group.id, found.profile.user_id, later))["slots"][:NEXT_SLOTS]
    return conflict(
        "slot_taken",
        "That time is no longer open (someone may have just booked it). Choose one of `next_slots`, or ask for the open slots again.",
        next_slots=[{**s, "starts_at": _utc_text(s["starts_at"]), "ends_at": _utc_text(s["ends_at"]),
                     "location_id": str(s["location_id"]) if s["location_id"] else None} for s in upcoming],
    )


async def _throttle(redis: Redis, settings: Settings, ip: str | None) -> None:
    count, retry_after = await count_in_window(redis, f"booking-book:ip:{ip or 'unknown'}", window_s=settings.booking_signup_window_s)
    if count > settings.booking_signups_per_address:
        raise Problem(429, "too_many_bookings", f"Too many bookings from this address. Wait {retry_after} seconds and try again.",
                      headers={"Retry-After": str(retry_after)}, retry_after=retry_after)


async def book(
    db: AsyncSession, redis: Redis, settings: Settings, actor: Actor | None, slug: str, body: BookingRequest, ip: str | None
) -> TherapySession | None:
    """S10: the person (logged in, or a new account) on the provider's roster and the slot booked, in this transaction.

    None when the email already has an account and nobody is logged in: that person is mailed to log in and book."""
    await _throttle(redis, settings, ip)
    found = await booking.bookable(db, slug)
    group, provider_id = found.group, found.profile.user_id
    kind = _kind(found, body.kind)
    account = body.account_fields
    if actor is not None and any(value is not None for value in account.values()):
        raise Problem(422, "signed_in_signup",
                      "You are logged in, so the booking is for your account: leave out email, password, first_name and last_name.",
                      errors=[{"field": f"body.{n}", "message": "leave out when logged in", "type": "extra_forbidden"}
                              for n, v in account.items() if v is not None])
    if actor is None and None in account.values():
        raise booking._missing_fields(account)
    if actor is not None and actor.user_id == provider_id:
        raise conflict("own_booking_link", "This is your own booking link: a provider cannot be their own client.")
    if kind == "consultation" and body.location_id is not None:
        raise Problem(422, "consultation_by_phone", "A consultation is a phone call: leave out `location_id`.",
                      errors=[{"field": "body.location_id", "message": "a consultation has no location"}])
    zone = group.time_zone
    _check_age(found, body.date_of_birth, clock.now().astimezone(ZoneInfo(zone)).date())
    starts_at = body.starts_at.astimezone(UTC)
    # Booked one after another per provider: the check below sees every booking committed before it.
    await _lock_provider(db, provider_id)
    state = body.telehealth_state
    location = str(body.location_id) if body.location_id else "telehealth"
    exact = availability.SlotQuery(start=starts_at, end=starts_at + timedelta(minutes=1), kind=kind,  # type: ignore[arg-type]
                                   location=location)
    if not any(s["starts_at"] == starts_at for s in (await availability.compute_open_slots(await driver_connection(db), group.id, provider_id, exact))["slots"]):
        raise await _slot_taken(db, found, body, kind, state)

    if state is not None and body.location_id is None and kind != "consultation":
        expiry = await license_expiry(db, group.id, provider_id, state)
        if expiry is None or starts_at.astimezone(ZoneInfo(zone)).date() > expiry:
            raise not_licensed(state)  # S13, before any account is made

    if actor is None:
        assert body.email and body.password and body.first_name and body.last_name
        user = await booking._new_account(db, email=body.email, password=body.password, first_name=body.first_name,
                                          last_name=body.last_name)
        if user is None:
            await booking._mail_existing_account(db, settings, found, body.email)
            return None
        client, _ = await enroll(db, group_id=group.id, user=user, provider_user_id=provider_id,
                                 billing_type=body.billing_type, added_by=user.id, phone=body.phone)
        await send_verification(db, user, settings)
        booked_by = user.id
    else:
        client, _ = await booking._book_as(db, actor, found, phone=body.phone, billing_type=body.billing_type)
        booked_by = actor.user_id
    if state is not None and client.telehealth_state is None:
        client.telehealth_state = state
        await db.flush()
    settings_now = await availability.booking_settings(db, group.id)
    minutes = availability.slot_minutes(kind, settings_now)
    if body.location_id is None and kind != "consultation":
        await check_telehealth_license(db, group.id, provider_id, client.id, starts_at, zone)  # S13
    policy = await cancellation_policy_at(db, group.id, clock.now()) if kind != "consultation" else None
    session = TherapySession(
        id=uuid.uuid4(), group_id=group.id, provider_user_id=provider_id, client_id=client.id, kind=kind,
        starts_at=starts_at, duration_minutes=minutes, ends_at=starts_at + timedelta(minutes=minutes),
        telehealth=body.location_id is None, location_id=body.location_id, status="scheduled",
        cancellation_policy_id=policy.id if policy else None, created_by_user_id=booked_by,
    )
    try:
        await sessions._save(db, session)
    except Problem as refused:
        if refused.code != "session_conflict":
            raise
        # The practice booked the provider (or this client) at that time meanwhile.
        raise await _slot_taken(db, found, body, kind, state) from None
    await audit.record(db, actor, "booking.booked", target_type="session", target_id=session.id, group_id=group.id,
                       client_id=str(client.id), provider_user_id=str(provider_id), kind=kind)
    return session
