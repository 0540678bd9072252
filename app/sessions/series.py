"""Recurring series (S11): booked all or none, changed for this occurrence, this and following, or all.

A series is its sessions: they share a `series_id`. Booking checks every occurrence in one statement and writes
them in one insert inside a SAVEPOINT: the exclusion constraints (S2, S7) refuse the insert if any occurrence
overlaps, and the 409 then lists each conflicting occurrence with what is in its way. Scoped changes touch only
scheduled occurrences that have not started: confirmed, cancelled or past ones are history.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.availability.licensure import check_telehealth_license
from app.core import audit, clock
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import Problem, conflict
from app.models import TherapySession
from app.sessions import notices, recurrence
from app.sessions import service as sessions
from app.sessions.schemas import CancelRequest, Scope, SeriesCreate, SessionUpdate

# The columns a booking writes; the rest take their defaults.
_WRITTEN = ("id", "group_id", "provider_user_id", "client_id", "client_user_id", "kind", "starts_at", "duration_minutes",
            "ends_at", "telehealth", "location_id", "status", "cancellation_policy_id", "created_by_user_id", "series_id")


def _series_conflict(found: dict[int, list[dict[str, Any]]], ranges: list[tuple[datetime, datetime]]) -> Problem:
    listed = [{"occurrence": n, "starts_at": ranges[n - 1][0].isoformat(), "ends_at": ranges[n - 1][1].isoformat(),
               "conflicts": found[n]} for n in sorted(found)]
    return conflict(
        "series_conflict",
        f"{len(listed)} of the {len(ranges)} sessions would overlap another session of the provider or the client; "
        "nothing was booked. Pick another time or length, or cancel the sessions in the way.",
        conflicts=listed,
    )


async def _write_all_or_none(db: AsyncSession, write: Any, conflicts: Any) -> None:
    """Run `write` inside a SAVEPOINT; an overlap refused by the database becomes the 409 `conflicts()` builds."""
    for attempt in range(1, 4):
        try:
            async with db.begin_nested():
                await write()
            return
        except IntegrityError as error:
            if not sessions._is_overlap(error):
                raise
            raise await conflicts() from None
        except DBAPIError as error:
            # Two bookings waiting on each other's constraint checks: one is aborted; again, it sees the other.
            if sessions._sqlstate(error) != "40P01" or attempt == 3:
                raise


async def create_series(db: AsyncSession, actor: Actor, group_id: uuid.UUID, body: SeriesCreate) -> list[TherapySession]:
    """S11: every occurrence or none."""
    booking = await sessions.check_booking(db, actor, group_id, body)
    first = body.starts_at.astimezone(UTC)
    repeat = body.repeat
    if repeat.until is not None and (why := recurrence.until_refusal(first, booking.time_zone, repeat.until)):
        raise Problem(422, "invalid_series_end", f"The series cannot end on that date: {why}.",
                      errors=[{"field": "body.repeat.until", "message": why}])
    starts = recurrence.occurrences(first, booking.time_zone, repeat.every_weeks, count=repeat.count, until=repeat.until)
    if body.location_id is None and body.kind != "consultation":
        # S13: licensed in the client's state on every occurrence's day (the last one decides an expiry).
        await check_telehealth_license(db, group_id, booking.provider_id, booking.client_id, starts[-1], booking.time_zone)
    series_id = uuid.uuid4()
    rows = [{name: getattr(booking.session(body, at, actor, series_id), name) for name in _WRITTEN} for at in starts]
    ranges = [(row["starts_at"], row["ends_at"]) for row in rows]

    await sessions.lock_calendars(db, booking.provider_id, booking.client_id, booking.person_id)

    async def write() -> None:
        await db.execute(insert(TherapySession).values(rows))  # one statement for the whole series

    async def conflicts() -> Problem:
        found = await sessions.conflicts_of(db, group_id=group_id, provider_id=booking.provider_id,
                                            client_id=booking.client_id, person_id=booking.person_id, ranges=ranges, moving=[])
        return _series_conflict(found, ranges)

    await _write_all_or_none(db, write, conflicts)
    booked = list(await db.scalars(
        select(TherapySession).where(TherapySession.series_id == series_id).order_by(TherapySession.starts_at)
    ))
    await audit.record(db, actor, "session.series_created", target_type="session_series", target_id=series_id,
                       group_id=group_id, session_ids=[str(s.id) for s in booked], client_id=str(booking.client_id),
                       provider_user_id=str(booking.provider_id))
    await notices.mail_client(db, "booked", [s.id for s in booked])
    return booked


async def _scope(db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID, scope: Scope
                 ) -> tuple[TherapySession, list[TherapySession]]:
    """The addressed occurrence and the ones the scope reaches: scheduled, not started, of the same series."""
    addressed = await sessions._visible_session(db, actor, group_id, session_id, for_update=True)
    if addressed.series_id is None:
        raise Problem(422, "not_in_series", "This session is not part of a series: leave out `scope` (or send `scope=this`).",
                      errors=[{"field": "query.scope", "message": "the session has no series"}])
    sessions._must_be_scheduled(addressed)
    grant = require(actor, Capability.CALENDAR, group_id)
    clauses = [TherapySession.series_id == addressed.series_id, TherapySession.status == "scheduled",
               TherapySession.starts_at > clock.now(), *sessions._owned(grant)]
    if scope == "following":
        clauses.append(TherapySession.starts_at >= addressed.starts_at)
    reached = list(await db.scalars(
        select(TherapySession).where(*clauses).order_by(TherapySession.starts_at).with_for_update()
    ))
    return addressed, reached


async def update_series(db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID,
                        body: SessionUpdate, scope: Scope) -> TherapySession:
    """S11: move this and following, or all, occurrences as the addressed one moves (wall-clock, group's zone)."""
    if scope == "this":
        return await sessions.update_session(db, actor, group_id, session_id, body)
    addressed, reached = await _scope(db, actor, group_id, session_id, scope)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    details = {"service_date", "service_code", "diagnosis_code"} & changes.keys()
    if details:
        raise conflict("session_not_confirmed", "Service date and codes are given when confirming each session.",
                       fields=sorted(details))
    if addressed.starts_at <= clock.now():
        raise conflict("session_started", "This session has started; change the following ones from the next session on.")
    if body.location_id is not None:
        await sessions._check_location(db, group_id, addressed.provider_user_id, body.location_id)
    zone = (await sessions._group(db, group_id)).time_zone
    moved: list[dict[str, Any]] = []
    for s in reached:
        starts_at = s.starts_at
        if body.starts_at is not None:
            starts_at = recurrence.moved_start(s.starts_at, addressed.starts_at, body.starts_at, zone)
        minutes = body.duration_minutes or s.duration_minutes
        values: dict[str, Any] = {"starts_at": starts_at, "duration_minutes": minutes,
                                  "ends_at": sessions._ends(starts_at, minutes), "updated_at": func.now()}
        if body.location_id is not None:
            values.update(location_id=body.location_id, telehealth=False)
        elif body.telehealth:
            values.update(location_id=None, telehealth=True)
        moved.append({"id": s.id, **values})
    ranges = [(m["starts_at"], m["ends_at"]) for m in moved]
    moving = [m["id"] for m in moved]

    async def conflicts() -> Problem:
        found = await sessions.conflicts_of(db, group_id=group_id, provider_id=addressed.provider_user_id,
                                            client_id=addressed.client_id,
                                            person_id=addressed.client_user_id, ranges=ranges, moving=moving)
        return _series_conflict(found, ranges)

    # Checked as a set first: an occurrence may move onto another's old place (a week later), which the
    # row-by-row constraint would refuse halfway; the writes then go in the order that never crosses one.
    if found := await sessions.conflicts_of(db, group_id=group_id, provider_id=addressed.provider_user_id,
                                            client_id=addressed.client_id,
                                            person_id=addressed.client_user_id, ranges=ranges, moving=moving):
        raise _series_conflict(found, ranges)
    later = bool(moved) and moved[0]["starts_at"] > reached[0].starts_at

    async def write() -> None:
        for values in reversed(moved) if later else moved:
            await db.execute(update(TherapySession).where(TherapySession.id == values["id"])
                             .values({k: v for k, v in values.items() if k != "id"})
                             .execution_options(synchronize_session=False))

    await _write_all_or_none(db, write, conflicts)
    for s in reached:
        await db.refresh(s)
    await audit.record(db, actor, "session.series_rescheduled", target_type="session_series", target_id=addressed.series_id,
                       group_id=group_id, scope=scope, session_ids=[str(i) for i in moving], fields=sorted(changes))
    if {"starts_at", "telehealth", "location_id"} & changes.keys():
        await notices.mail_client(db, "moved", moving)
    return addressed


async def cancel_series(db: AsyncSession, actor: Actor, group_id: uuid.UUID, session_id: uuid.UUID,
                        body: CancelRequest, scope: Scope) -> TherapySession:
    """S11, S4: cancel this and following, or all, scheduled occurrences that have not started."""
    if scope == "this":
        return await sessions.cancel_session(db, actor, group_id, session_id, body)
    addressed, reached = await _scope(db, actor, group_id, session_id, scope)
    now = clock.now()
    if addressed.starts_at <= now:
        raise conflict("session_started", "This session has started: record a no-show, and cancel the following ones from the next.")
    for s in reached:
        await sessions.cancel_one(db, actor, s, body, now, notify=False)
    await notices.mail_client(db, "cancelled", [s.id for s in reached])  # one mail for them all
    return addressed

