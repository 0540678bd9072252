"""Sessions on providers' calendars (S1-S6): booking, moving, confirming, cancelling, no-shows, calendars.

S2 lives in the database (exclusion constraints on live sessions, provider across groups and client):
a write that would double-book fails inside a SAVEPOINT, the request's transaction survives, and the
409 lists every session in the way. A session in another practice is shown only as busy time.
Sessions are never deleted (S4); every transition and every read is audited (R2), ids only.
"""

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from asyncpg import Record
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.availability.licensure import check_telehealth_license
from app.clients import readiness
from app.clients.access import on_roster_of, provider_reads, visible_clients
from app.clients.readiness_loader import client_facts
from app.core import audit, clock
from app.core.auth import Actor
from app.core.authz import Capability, Grant, Reach, require
from app.core.db import Reader
from app.core.errors import Problem, conflict, not_found
from app.core.middleware import current_request
from app.core.pagination import PageParams, decode_cursor, encode_cursor
from app.core.pagination import invalid_cursor
from app.models import CancellationPolicy, Client, Group, Membership, PracticeLocation, TherapySession
from app.models.sessions import LIVE_SESSION
from app.payouts import earnings
from app.payouts.schedule import arrival_window, schedule_for
from app.practice.service import cancellation_policy_at
from app.sessions import notices, rules
from app.webhooks.events import emit
from app.sessions.schemas import CancelRequest, ConfirmRequest, SessionCreate, SessionUpdate, Status

# The currency of a late-cancellation fee: cancellation policies are kept in USD, the one currency payouts use.
FEE_CURRENCY = "USD"
LIVE_STATUSES = ("scheduled", "confirmed", "no_show")
assert "'cancelled', 'late_cancelled'" in LIVE_SESSION  # the constraint's idea of "live" and ours agree

# What a session response shows (session_document); the calendar list reads these columns (calendar_statement).
DOCUMENT_COLUMNS = (
    TherapySession.id, TherapySession.group_id, TherapySession.provider_user_id, TherapySession.client_id,
    TherapySession.kind, TherapySession.starts_at, TherapySession.ends_at, TherapySession.duration_minutes,
    TherapySession.telehealth, TherapySession.location_id, TherapySession.status, TherapySession.created_at,
    TherapySession.confirmed_at, TherapySession.service_date, TherapySession.service_code,
    TherapySession.diagnosis_code, TherapySession.pay_date, TherapySession.period_date,
    TherapySession.cancelled_at, TherapySession.cancelled_by, TherapySession.cancellation_reason,
    TherapySession.late_cancellation_fee_cents, TherapySession.no_show_at, TherapySession.series_id,
)


def session_document(s: TherapySession) -> dict[str, Any]:
    """The response body of one session (schemas.SessionOut); listed_document is the same from a calendar row."""
    confirmation = None
    if s.confirmed_at is not None and s.period_date is not None:
        earliest, latest = arrival_window(s.period_date)
        confirmation = {
            "confirmed_at": s.confirmed_at,
            "service_date": s.service_date,
            "service_code": s.service_code,
            "diagnosis_code": s.diagnosis_code,
            "pay_date": s.pay_date,
            "arrives_earliest": earliest,
            "arrives_latest": latest,
            "editable_until": rules.editable_until(s.confirmed_at),
        }
    cancellation = None
    if s.cancelled_at is not None:
        cancellation = {
            "cancelled_at": s.cancelled_at,
            "by": s.cancelled_by,
            "reason": s.cancellation_reason,
            "late_cancellation_fee_cents": s.late_cancellation_fee_cents,
            "currency": FEE_CURRENCY,
        }
    return {
        "id": s.id,
        "group_id": s.group_id,
        "provider_user_id": s.provider_user_id,
        "client_id": s.client_id,
        "kind": s.kind,
        "starts_at": s.starts_at,
        "ends_at": s.ends_at,
        "duration_minutes": s.duration_minutes,
        "telehealth": s.telehealth,
        "location_id": s.location_id,
        "status": s.status,
        "created_at": s.created_at,
        "confirmation": confirmation,
        "cancellation": cancellation,
        "no_show_at": s.no_show_at,
        "series_id": s.series_id,
    }


@dataclass(frozen=True, slots=True)
class GroupSettings:
    time_zone: str
    intake_session_minutes: int


async def _group(db: AsyncSession, group_id: uuid.UUID) -> GroupSettings:
    row = (await db.execute(select(Group.time_zone, Group.intake_session_minutes).where(Group.id == group_id))).one()
    return GroupSettings(time_zone=row.time_zone, intake_session_minutes=row.intake_session_minutes)


def _owned(grant: Grant) -> list[Any]:
    """R1: a provider reaches only their own calendar; another provider's session is simply not there.

    C10: and only sessions created while the client was on their roster. On a provider's own calendar that
    always holds (a session is booked only for a client of the provider's active roster), so the calendar
    page (calendar_statement) does not repeat the test per row; here it guards every single-session read.
    """
    clauses: list[Any] = [TherapySession.group_id == grant.group_id]
    if grant.reach is Reach.OWN:
        clauses.append(TherapySession.provider_user_id == grant.actor.user_id)
        clauses.append(provider_reads(grant.actor.user_id, TherapySession.client_id, TherapySession.created_at))
    return clauses


async def _visible_session(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID, *, for_update: bool = False
) -> TherapySession:
    grant = require(actor, Capability.CALENDAR, group_id)
    stmt = select(TherapySession).where(TherapySession.id == session_id, *_owned(grant))
    if for_update:
        stmt = stmt.with_for_update()
    session = await db.scalar(stmt)
    if session is None:
        raise not_found("session")
    return session


async def _calendar_owner(db: AsyncSession, actor: Actor, group_id: uuid.UUID, provider_id: uuid.UUID | None) -> uuid.UUID:
    """Whose calendar: the one named, else the caller; a provider may only name themself (403 otherwise)."""
    provider_id = provider_id or actor.user_id
    if provider_id is None:
        raise Problem(422, "provider_required", "Name the provider whose calendar this is (`provider_id`).",
                      errors=[{"field": "body.provider_id", "message": "required for API keys"}])
    require(actor, Capability.CALENDAR, group_id, provider_user_id=provider_id)
    is_provider = await db.scalar(
        select(Membership.id).where(
            Membership.group_id == group_id, Membership.user_id == provider_id,
            Membership.is_provider, Membership.ended_at.is_(None),
        )
    )
    if is_provider is None:
        raise Problem(422, "not_a_provider", "That person is not an active provider of this group.",
                      errors=[{"field": "body.provider_id", "message": "not an active provider of the group"}])
    return provider_id


async def _check_location(db: AsyncSession, group_id: uuid.UUID, provider_id: uuid.UUID, location_id: uuid.UUID) -> None:
    found = await db.scalar(
        select(PracticeLocation.id).where(
            PracticeLocation.id == location_id, PracticeLocation.group_id == group_id,
            PracticeLocation.provider_user_id == provider_id, PracticeLocation.archived_at.is_(None),
        )
    )
    if found is None:
        raise Problem(422, "invalid_location", "That is not one of the provider's practice locations (archived ones cannot be booked).",
                      errors=[{"field": "body.location_id", "message": "not a current practice location of the provider"}])


# S2, S7: the live sessions in the way of each proposed range (the n-th range is occurrence n, from 1), in one
# statement for any number of ranges (a series of 52 is checked as one set).
_CONFLICTS_SQL = text("""
SELECT o.n, s.id, s.group_id, s.provider_user_id, s.client_id, s.client_user_id, s.starts_at, s.ends_at
  FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) WITH ORDINALITY AS o(starts_at, ends_at, n)
  JOIN sessions s
    ON (s.provider_user_id = :provider OR s.client_id = :client OR s.client_user_id = :person)
   AND s.status NOT IN ('cancelled', 'late_cancelled')
   AND s.starts_at < o.ends_at AND s.ends_at > o.starts_at
   AND s.id <> ALL(CAST(:moving AS uuid[]))
 ORDER BY o.n, s.starts_at, s.id
""")


async def conflicts_of(
    db: AsyncSession, *, group_id: uuid.UUID, provider_id: uuid.UUID, client_id: uuid.UUID, person_id: uuid.UUID | None,
    ranges: list[tuple[datetime, datetime]], moving: list[uuid.UUID],
) -> dict[int, list[dict[str, Any]]]:
    """Each proposed range's conflicts, by occurrence number. A session of another practice shows only as busy
    time of the provider or the client (S7, R1): no id, no name, no practice. `person_id` is None while the
    client has not accepted the practice (C8): then only this practice's record of them is checked."""
    rows = await db.execute(_CONFLICTS_SQL, {
        "starts": [r[0] for r in ranges], "ends": [r[1] for r in ranges], "provider": provider_id, "client": client_id, "person": person_id,
        "moving": [str(m) for m in moving],
    })
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        parties = [p for p, same in (("provider", row.provider_user_id == provider_id),
                                     ("client", row.client_id == client_id
                                                or (person_id is not None and row.client_user_id == person_id))) if same]
        shown = found.setdefault(row.n, [])
        for party in parties:
            if row.group_id != group_id:
                shown.append({"party": party, "starts_at": row.starts_at.isoformat(), "ends_at": row.ends_at.isoformat(),
                              "other_practice": True})
            else:
                shown.append({"party": party, "session_id": str(row.id), "starts_at": row.starts_at.isoformat(),
                              "ends_at": row.ends_at.isoformat(), "other_practice": False})
    return found


async def _conflicts(db: AsyncSession, session: "_Proposed") -> list[dict[str, Any]]:
    """S2, S7: every live session in the way, for the provider and for the client (their account), any practice."""
    found = await conflicts_of(db, group_id=session.group_id, provider_id=session.provider_user_id,
                               client_id=session.client_id, person_id=session.client_user_id, ranges=[(session.starts_at, session.ends_at)],
                               moving=[session.id])
    return found.get(1, [])


_DEADLOCK_ATTEMPTS = 3


async def lock_calendars(db: AsyncSession, *owners: uuid.UUID | None) -> None:
    """Bookings that could overlap take turns: a transaction lock per calendar they write (the provider's, the
    client record's, the person's), taken in one order. Without it, concurrent inserts checked against three
    exclusion constraints wait on each other and PostgreSQL aborts some as deadlocks (500s under load)."""
    keys = sorted({int.from_bytes(hashlib.blake2b(owner.bytes, digest_size=8, person=b"calendar").digest(), "big", signed=True)
                   for owner in owners if owner is not None})
    for key in keys:
        await db.execute(select(func.pg_advisory_xact_lock(key)))


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "pgcode", None) or getattr(getattr(error.orig, "__cause__", None), "sqlstate", None)


def _is_overlap(error: IntegrityError) -> bool:
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or ""
    return name.startswith("ex_sessions_") or getattr(error.orig, "pgcode", None) == "23P01"


async def _save(db: AsyncSession, session: TherapySession, changes: dict[str, Any] | None = None) -> None:
    """Write inside a SAVEPOINT: a double booking is refused by the database and answered with every conflict.

    A new session is added, an existing one gets `changes`, inside the savepoint: SAVEPOINT itself
    flushes what is pending, so changes made before it would fail outside it and doom the request.
    """
    new = changes is None
    changes = changes or {}
    proposed = _Proposed(
        session.id, session.group_id, session.provider_user_id, session.client_id, session.client_user_id,
        changes.get("starts_at", session.starts_at), changes.get("ends_at", session.ends_at),
    )
    await lock_calendars(db, proposed.provider_user_id, proposed.client_id, proposed.client_user_id)
    try:
        for attempt in range(1, _DEADLOCK_ATTEMPTS + 1):
            try:
                async with db.begin_nested():
                    if new:
                        db.add(session)
                    for name, value in changes.items():
                        setattr(session, name, value)
                    await db.flush()
                break
            except DBAPIError as error:
                # Two overlapping bookings checked against both exclusion constraints (provider, then
                # client) can wait on each other; PostgreSQL aborts one. Trying again waits for the
                # other to finish, then finds its session: a 409 with the conflicts, not a 500.
                if _sqlstate(error) != "40P01" or attempt == _DEADLOCK_ATTEMPTS:
                    raise
    except IntegrityError as error:
        if not _is_overlap(error):
            raise
        raise conflict(
            "session_conflict",
            "The provider or the client already has a session at that time. Pick another time, or cancel the other session.",
            conflicts=await _conflicts(db, proposed),
        ) from None
    await db.refresh(session)


@dataclass(frozen=True, slots=True)
class _Proposed:
    """The times that were refused (the entity itself is rolled back to its stored values)."""

    id: uuid.UUID
    group_id: uuid.UUID
    provider_user_id: uuid.UUID
    client_id: uuid.UUID
    client_user_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime


def _ends(starts_at: datetime, minutes: int) -> datetime:
    # Absolute time: an hour's session across the spring-forward night still lasts an hour.
    return starts_at + timedelta(minutes=minutes)


# --- booking ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Booking:
    """What a booking (single or series) checked: whose calendar, which client and person, how long, where."""

    group_id: uuid.UUID
    provider_id: uuid.UUID
    client_id: uuid.UUID
    person_id: uuid.UUID | None  # None until the person accepted the practice (C8)
    minutes: int
    time_zone: str
    policy_id: uuid.UUID | None

    def session(self, body: SessionCreate, starts_at: datetime, actor: Actor, series_id: uuid.UUID | None = None) -> TherapySession:
        return TherapySession(
            id=uuid.uuid4(), group_id=self.group_id, provider_user_id=self.provider_id, client_id=self.client_id,
            client_user_id=self.person_id, kind=body.kind, starts_at=starts_at, duration_minutes=self.minutes,
            ends_at=_ends(starts_at, self.minutes), telehealth=body.location_id is None, location_id=body.location_id,
            status="scheduled", cancellation_policy_id=self.policy_id, created_by_user_id=actor.user_id,
            series_id=series_id,
        )


async def check_booking(db: AsyncSession, actor: Actor, group_id: uuid.UUID, body: SessionCreate) -> Booking:
    """S1: the provider's calendar, a client of their active roster, a place of theirs, the length by kind."""
    grant = require(actor, Capability.CALENDAR, group_id)
    provider_id = await _calendar_owner(db, actor, group_id, body.provider_id)
    client = (await db.execute(
        select(Client.id, Client.user_id, Client.consented_at).where(Client.id == body.client_id, *visible_clients(grant))
    )).one_or_none()
    if client is None:
        raise not_found("client")
    on_roster = await db.scalar(select(Client.id).where(Client.id == client.id, on_roster_of(provider_id, active_only=True)))
    if on_roster is None:
        raise conflict("client_not_on_roster", "The client is not on this provider's active roster: add them to it first.",
                       client_id=str(client.id), provider_user_id=str(provider_id))
    if body.location_id is not None:
        await _check_location(db, group_id, provider_id, body.location_id)
    settings = await _group(db, group_id)
    minutes = body.duration_minutes or (
        settings.intake_session_minutes if body.kind == "intake" else rules.DEFAULT_THERAPY_MINUTES
    )
    if body.kind == "consultation" and body.location_id is not None:
        raise Problem(422, "consultation_by_phone", "A consultation is a phone call: book it with `telehealth: true`.",
                      errors=[{"field": "body.location_id", "message": "a consultation has no location"}])
    policy = await cancellation_policy_at(db, group_id, clock.now())
    return Booking(group_id=group_id, provider_id=provider_id, client_id=client.id,
                   person_id=client.user_id if client.consented_at is not None else None,
                   minutes=minutes, time_zone=settings.time_zone,
                   policy_id=policy.id if policy and body.kind != "consultation" else None)  # a consultation is never billed


async def create_session(db: AsyncSession, actor: Actor, group_id: uuid.UUID, body: SessionCreate) -> TherapySession:
    """S1, S2: book a session on a provider's calendar with a client of their active roster."""
    booking = await check_booking(db, actor, group_id, body)
    starts_at = body.starts_at.astimezone(UTC)
    if body.location_id is None and body.kind != "consultation":
        await check_telehealth_license(db, group_id, booking.provider_id, booking.client_id, starts_at, booking.time_zone)  # S13
    session = booking.session(body, starts_at, actor)
    await _save(db, session)
    await audit.record(db, actor, "session.created", target_type="session", target_id=session.id, group_id=group_id,
                       client_id=str(booking.client_id), provider_user_id=str(booking.provider_id))
    await emit(db, group_id, "session.booked", session.id, provider_id=booking.provider_id, client_id=booking.client_id)
    await notices.mail_client(db, "booked", [session.id])
    return session


async def update_session(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID, body: SessionUpdate
) -> TherapySession:
    """A scheduled session moves (start, duration, place); a confirmed one is corrected for 48 hours (S3)."""
    session = await _visible_session(db, actor, group_id, session_id, for_update=True)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    place = {"starts_at", "telehealth", "location_id"} & changes.keys()
    details = {"service_date", "service_code", "diagnosis_code"} & changes.keys()
    if session.status == "scheduled":
        if details:
            raise conflict("session_not_confirmed", "Service date and codes are given when confirming the session.",
                           fields=sorted(details))
        values = await _reschedule(db, session, body)
        action = "session.rescheduled"
    elif session.status == "confirmed":
        if place:
            raise conflict("session_confirmed", "A confirmed session cannot be moved; only its details can be corrected.",
                           fields=sorted(place))
        assert session.confirmed_at is not None
        if not rules.correction_open(session.confirmed_at, clock.now()):
            raise conflict("confirmation_locked", "The details of a confirmed session can be corrected for 48 hours only.",
                           editable_until=rules.editable_until(session.confirmed_at).isoformat())
        if body.service_date is not None:
            _check_service_date(body.service_date, session, (await _group(db, group_id)).time_zone)
        values = _correct(session, body)
        action = "session.corrected"
    else:
        raise conflict("session_closed", f"A {session.status.replace('_', ' ')} session cannot be changed.", session_status=session.status)
    was = session.starts_at
    await _save(db, session, {**values, "updated_at": func.now()})
    if session.status == "confirmed":
        await earnings.correct_session_earning(db, session)
    await audit.record(db, actor, action, target_type="session", target_id=session.id, group_id=group_id,
                       fields=sorted(changes))
    if place:
        await notices.mail_client(db, "moved", [session.id], was=was)
    return session


async def _reschedule(db: AsyncSession, session: TherapySession, body: SessionUpdate) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if body.location_id is not None:
        await _check_location(db, session.group_id, session.provider_user_id, body.location_id)
        values.update(location_id=body.location_id, telehealth=False)
    elif body.telehealth:
        values.update(location_id=None, telehealth=True)
    starts_at = body.starts_at.astimezone(UTC) if body.starts_at is not None else session.starts_at
    minutes = body.duration_minutes or session.duration_minutes
    if values.get("telehealth", session.telehealth) and session.kind != "consultation":
        zone = (await _group(db, session.group_id)).time_zone
        await check_telehealth_license(db, session.group_id, session.provider_user_id, session.client_id, starts_at, zone)  # S13
    return {**values, "starts_at": starts_at, "duration_minutes": minutes, "ends_at": _ends(starts_at, minutes)}


def _correct(session: TherapySession, body: SessionUpdate) -> dict[str, Any]:
    values = body.model_dump(include={"service_date", "service_code", "diagnosis_code"}, exclude_none=True)
    if body.duration_minutes is not None:
        values.update(duration_minutes=body.duration_minutes, ends_at=_ends(session.starts_at, body.duration_minutes))
    return values


# --- transitions -----------------------------------------------------------------------------------


def _check_service_date(service_date: date, session: TherapySession, time_zone: str) -> None:
    """S8: the service date billed is the day the session took place, in the group's time zone."""
    expected = rules.local_date(session.starts_at, time_zone)
    if service_date != expected:
        raise Problem(
            422,
            "service_date_mismatch",
            f"The service date must be the session's date in the group's time zone ({time_zone}): "
            f"{expected.isoformat()}. Send that date or leave `service_date` out.",
            expected_service_date=expected.isoformat(),
            errors=[{"field": "body.service_date", "message": "not the session's local date", "type": "service_date_mismatch"}],
        )


def _must_be_scheduled(session: TherapySession) -> None:
    if session.status != "scheduled":
        raise conflict("session_not_scheduled", f"Only a scheduled session can do that; this one is {session.status}.",
                       session_status=session.status)


async def confirm_session(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID, body: ConfirmRequest
) -> TherapySession:
    """S3, S6: record the details, stamp confirmed_at, and earn the session's line (P6)."""
    session = await _visible_session(db, actor, group_id, session_id, for_update=True)
    _must_be_scheduled(session)
    settings = await _group(db, group_id)
    now = clock.now()
    refusal = rules.confirmation_refusal(now, session.starts_at, settings.time_zone)
    if refusal == "session_not_started":
        raise conflict(refusal, "A session can be confirmed once it has started.", starts_at=session.starts_at.isoformat())
    if refusal == "confirmation_window_closed":
        raise conflict(refusal, f"A session can be confirmed up to {rules.CONFIRMATION_WINDOW_DAYS} days after it took place.")
    if session.telehealth and session.kind != "consultation":
        await check_telehealth_license(db, group_id, session.provider_user_id, session.client_id, session.starts_at,
                                       settings.time_zone)  # S13
    client = await db.scalar(select(Client).where(Client.id == session.client_id))
    assert client is not None
    # C4 as this practice may see it (C8): nothing the person did counts before they accepted its invitation.
    missing = readiness.missing((await client_facts(db, [client], now=now))[client.id])
    if missing:
        raise conflict("client_not_ready", "The client is not ready yet: " + ", ".join(m.replace("_", " ") for m in missing) + ".",
                       missing=missing, client_id=str(client.id))
    if body.service_date is not None:
        _check_service_date(body.service_date, session, settings.time_zone)
    schedule = schedule_for(now, settings.time_zone)
    minutes = body.duration_minutes or session.duration_minutes
    await _save(db, session, {
        "status": "confirmed",
        "confirmed_at": now,
        "confirmed_by_user_id": actor.user_id,
        "service_date": body.service_date or rules.local_date(session.starts_at, settings.time_zone),
        "service_code": body.service_code,
        "diagnosis_code": body.diagnosis_code,
        "period_date": schedule.period_date,
        "pay_date": schedule.pay_date,
        "duration_minutes": minutes,
        "ends_at": _ends(session.starts_at, minutes),
        "updated_at": func.now(),
    })
    if session.kind != "consultation":  # a phone consultation is never billed and earns no pay line
        await earnings.record_session_earning(db, session)  # 409 rate_missing rolls the whole request back
    await audit.record(db, actor, "session.confirmed", target_type="session", target_id=session.id, group_id=group_id,
                       service_code=session.service_code)
    await emit(db, group_id, "session.confirmed", session.id, ["status", "confirmed_at", "service_date", "pay_date"],
               provider_id=session.provider_user_id, client_id=session.client_id)
    return session


async def cancel_session(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID, body: CancelRequest
) -> TherapySession:
    """S4: before the start only. A client's cancellation inside the booked policy's window is late and carries its fee."""
    session = await _visible_session(db, actor, group_id, session_id, for_update=True)
    _must_be_scheduled(session)
    now = clock.now()
    if now >= session.starts_at:
        raise conflict("session_started", "The session has started: record a no-show instead of cancelling.")
    await cancel_one(db, actor, session, body, now)
    return session


async def cancel_one(
    db: AsyncSession, actor: Actor, session: TherapySession, body: CancelRequest, now: datetime, *, notify: bool = True
) -> None:
    """S4: cancel one scheduled session that has not started (the caller checked both); S12: the client is told."""
    fee = 0
    late = False
    if body.by == "client" and session.cancellation_policy_id is not None:
        policy = await db.get(CancellationPolicy, session.cancellation_policy_id)
        assert policy is not None
        late = rules.is_late_cancellation(now, session.starts_at, policy.window_hours)
        fee = policy.fee_cents if late else 0
    session.status = "late_cancelled" if late else "cancelled"
    session.cancelled_at = now
    session.cancelled_by = body.by
    session.cancelled_by_user_id = actor.user_id
    session.cancellation_reason = body.reason
    session.late_cancellation_fee_cents = fee if late else None
    session.updated_at = func.now()
    await db.flush()
    await db.refresh(session)
    if late:
        await earnings.record_late_cancellation_fee(db, session)
    await audit.record(db, actor, f"session.{session.status}", target_type="session", target_id=session.id,
                       group_id=session.group_id, by=body.by)
    await emit(db, session.group_id, "session.cancelled", session.id, ["status", "cancelled_at", "cancelled_by"],
               provider_id=session.provider_user_id, client_id=session.client_id)
    if notify:
        await notices.mail_client(db, "cancelled", [session.id])


async def record_no_show(db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID) -> TherapySession:
    """S4: the client did not come; only once the session has started."""
    session = await _visible_session(db, actor, group_id, session_id, for_update=True)
    _must_be_scheduled(session)
    now = clock.now()
    if now < session.starts_at:
        raise conflict("session_not_started", "A no-show can be recorded once the session has started.",
                       starts_at=session.starts_at.isoformat())
    session.status = "no_show"
    session.no_show_at = now
    session.no_show_by_user_id = actor.user_id
    session.updated_at = func.now()
    await db.flush()
    await db.refresh(session)
    await audit.record(db, actor, "session.no_show", target_type="session", target_id=session.id, group_id=group_id)
    return session


# --- reads -----------------------------------------------------------------------------------------


async def read_session(db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID) -> TherapySession:
    session = await _visible_session(db, actor, group_id, session_id)
    await audit.record(db, actor, "session.read", target_type="session", target_id=session.id, group_id=group_id)
    return session


async def list_sessions(
    reader: Reader,
    actor: Actor,
    group_id: uuid.UUID,
    page: PageParams,
    *,
    provider_id: uuid.UUID | None,
    start: datetime | None,
    end: datetime | None,
    status: Status | None,
    client_id: uuid.UUID | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """S5: sessions starting in [from, to), by (starts_at, id): a provider's calendar or (admins) the group's.

    ONE statement (calendar_statement) reads the page and writes the read's audit row (R2), on the asyncpg pool
    of the authentication lookup (app.core.db.get_reader), as the clients' roster list does: no SQLAlchemy
    session, whose checkout costs three round trips (pool pre-ping: BEGIN, ping, ROLLBACK) and the audit
    insert three more (BEGIN, INSERT, COMMIT); building the statement and the audit insert with SQLAlchemy
    cost more CPU than the rest of the request (scripts/bench/bench_sessions.py).
    """
    grant = require(actor, Capability.CALENDAR, group_id, provider_user_id=provider_id)
    if grant.reach is Reach.OWN:
        provider_id = actor.user_id  # a provider's calendar is their own
    start = start or clock.now()
    end = end or start + rules.DEFAULT_CALENDAR_RANGE
    if end <= start or end - start > rules.MAX_CALENDAR_RANGE:
        raise Problem(422, "invalid_range", f"`to` must come after `from`, at most {rules.MAX_CALENDAR_RANGE.days} days later.",
                      errors=[{"field": "query.to", "message": "after `from`, within 93 days"}])
    request = current_request.get()
    args: list[Any] = [
        group_id, start, end,
        # The audit row, as app.core.audit.record fills it.
        actor.user_id, actor.id if actor.kind == "api_key" else None,
        request.ip if request else None, request.request_id if request else None,
    ]
    if provider_id is not None:
        args.append(provider_id)
    if status is not None:
        args.append(status)
    if client_id is not None:
        args.append(client_id)
    if page.cursor:
        args.extend(_after(page.cursor))
    sql = calendar_statement(provider=provider_id is not None, status=status is not None, after=page.cursor is not None,
                             size=page.limit, client=client_id is not None)
    rows = await reader.fetch(sql, *args)
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        next_cursor = encode_cursor([rows[-1]["starts_at"], rows[-1]["id"]])
    return [listed_document(row) for row in rows], next_cursor


# The page's columns (DOCUMENT_COLUMNS) and what is shown of them: uuids as text, nothing to build and serialise back.
_PAGE_COLUMNS = ", ".join(c.key for c in DOCUMENT_COLUMNS)
_SHOWN_COLUMNS = ", ".join(
    f"{c.key}::text AS {c.key}" if c.type.python_type is uuid.UUID else c.key for c in DOCUMENT_COLUMNS
)


@lru_cache(maxsize=256)
def calendar_statement(*, provider: bool, status: bool, after: bool, size: int, client: bool = False) -> str:
    """The calendar page for one shape of request; it reads one row more than `size` (is there a next page?).

    Parameters: $1 group_id, $2 from, $3 to, $4-$7 the audit row's actor_user_id, actor_api_key_id, actor_ip,
    request_id; then, when present, provider_id, status, client_id, and the cursor's starts_at and id. The page size is
    written into the text, as in app.clients.roster_sql: a prepared `LIMIT $n` leaves PostgreSQL planning for an
    unknown share of the group.

    The statement also writes the read's audit row (R2, as app.core.audit.record writes it: the ids shown, in
    order): the read and its record are one statement, so neither exists alone.
    """
    assert isinstance(size, int) and size > 0
    where = ["group_id = $1", "starts_at >= $2", "starts_at < $3"]
    n = 7
    if provider:
        n += 1
        where.append(f"provider_user_id = ${n}")
    if status:
        n += 1
        where.append(f"status = ${n}")
    if client:
        n += 1
        where.append(f"client_id = ${n}")
    if after:
        where.append(f"(starts_at, id) > (${n + 1}::timestamptz, ${n + 2}::uuid)")
    return f"""WITH page AS (
  SELECT {_PAGE_COLUMNS} FROM sessions WHERE {" AND ".join(where)} ORDER BY starts_at, id LIMIT {size + 1}
),
audit AS (
  INSERT INTO audit_events (actor_user_id, actor_api_key_id, actor_ip, request_id, action, target_type, target_id, group_id,
                            outcome, details)
  SELECT $4::uuid, $5::uuid, $6::inet, $7, 'session.list_read', 'session', NULL, $1, 'success',
         jsonb_build_object('session_ids', coalesce(
           (SELECT jsonb_agg(shown.id::text ORDER BY shown.starts_at, shown.id)
              FROM (SELECT id, starts_at FROM page ORDER BY starts_at, id LIMIT {size}) shown), '[]'::jsonb))
)
SELECT {_SHOWN_COLUMNS},
       -- Whoever reads a calendar may see its clients (R1, C10); the name is the practice's own copy (C8).
       (SELECT c.first_name || ' ' || c.last_name FROM clients c WHERE c.id = page.client_id) AS client_name
  FROM page ORDER BY page.starts_at, page.id"""


def _after(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The keyset cursor (as app.core.pagination.encode_cursor writes it): the last row's starts_at and id."""
    starts_at, session_id = decode_cursor(cursor, 2)
    if not isinstance(starts_at, str) or not isinstance(session_id, str):
        raise invalid_cursor()
    try:
        after = datetime.fromisoformat(starts_at), uuid.UUID(session_id)
    except ValueError:
        raise invalid_cursor() from None
    if after[0].tzinfo is None:
        raise invalid_cursor()  # issued cursors carry the offset
    return after


_arrival_window = lru_cache(maxsize=1024)(arrival_window)  # pure: one holiday calendar walk per period


def listed_document(r: Record) -> dict[str, Any]:
    """`session_document` of a calendar_statement row (ids already text); tests/sessions/test_calendar_list.py
    compares the two for sessions in every state."""
    (id_, group_id, provider_user_id, client_id, kind, starts_at, ends_at, duration_minutes, telehealth, location_id,
     status, created_at, confirmed_at, service_date, service_code, diagnosis_code, pay_date, period_date,
     cancelled_at, cancelled_by, cancellation_reason, late_cancellation_fee_cents, no_show_at, series_id, client_name) = r
    confirmation = None
    if confirmed_at is not None and period_date is not None:
        earliest, latest = _arrival_window(period_date)
        confirmation = {
            "confirmed_at": confirmed_at,
            "service_date": service_date,
            "service_code": service_code,
            "diagnosis_code": diagnosis_code,
            "pay_date": pay_date,
            "arrives_earliest": earliest,
            "arrives_latest": latest,
            "editable_until": rules.editable_until(confirmed_at),
        }
    cancellation = None
    if cancelled_at is not None:
        cancellation = {
            "cancelled_at": cancelled_at,
            "by": cancelled_by,
            "reason": cancellation_reason,
            "late_cancellation_fee_cents": late_cancellation_fee_cents,
            "currency": FEE_CURRENCY,
        }
    return {
        "id": id_,
        "group_id": group_id,
        "provider_user_id": provider_user_id,
        "client_id": client_id,
        "kind": kind,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "duration_minutes": duration_minutes,
        "telehealth": telehealth,
        "location_id": location_id,
        "status": status,
        "created_at": created_at,
        "confirmation": confirmation,
        "cancellation": cancellation,
        "no_show_at": no_show_at,
        "series_id": series_id,
        "client_name": client_name,
    }
