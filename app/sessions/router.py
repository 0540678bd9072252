import uuid
from typing import Annotated, Literal

from fastapi import Depends, Query, Response


from app.core.auth import CurrentActor, PersonActor
from app.core.authz import Capability
from app.core.db import DB, Reader, get_reader
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.responses import json_response
from app.core.routing import PERSON, allowed, router
from app.core.schemas import InstantQuery
from app.models import TherapySession
from app.sessions import client_side, schemas, series, service

sessions_router = router("/v1/groups/{group_id}/sessions", "sessions")
my_sessions_router = router("/v1/me/sessions", "sessions")
ERRORS = problem_responses(401, 403, 404, 409, 422)
SCOPE = ("In a series: `this` session only (default), this and the `following` ones, or `all` of them. "
         "Confirmed, cancelled and past occurrences are never changed.")




def session_out(session: TherapySession) -> schemas.SessionOut:
    return schemas.SessionOut.model_validate(service.session_document(session))


@sessions_router.post("", summary="Book a session", status_code=201, dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CALENDAR))
async def create_session(group_id: uuid.UUID, body: schemas.SessionCreate, actor: CurrentActor, db: DB) -> schemas.SessionOut:
    """Book a session with a client of the provider's roster; a double booking is refused with every conflict (S1, S2)."""
    return session_out(await service.create_session(db, actor, group_id, body))


@sessions_router.post(
    "/series", status_code=201, dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CALENDAR),
    summary="Book a recurring series",
    description=(
        "Books a weekly or every-two-weeks series with one client: the first session as for a single booking, and "
        "`repeat` with a `count` (2-52) or an `until` date (at most 364 days after the first, in the group's time zone). "
        "Every occurrence keeps the first one's local time of day in the group's time zone across daylight-saving changes. "
        "All occurrences are booked or none: if any overlaps a session of the provider or the client (in any practice), "
        "the 409 `series_conflict` lists each conflicting occurrence with what is in its way; another practice's session "
        "shows only as busy time. Every session carries the `series_id`; change them later with `scope` on PATCH and cancel."
    ),
)
async def create_series(group_id: uuid.UUID, body: schemas.SeriesCreate, actor: CurrentActor, db: DB) -> schemas.SeriesOut:
    booked = await series.create_series(db, actor, group_id, body)
    return schemas.SeriesOut(series_id=booked[0].series_id, sessions=[session_out(s) for s in booked])


@sessions_router.get(
    "", summary="List sessions in a time range", response_model=Page[schemas.SessionOut], responses=problem_responses(401, 403, 404, 422), **allowed(Capability.CALENDAR)
)
async def list_sessions(
    group_id: uuid.UUID,
    actor: CurrentActor,
    reader: Annotated[Reader, Depends(get_reader)],
    page: PageQuery,
    provider_id: Annotated[uuid.UUID | None, Query(description="One provider's calendar (providers: only their own).")] = None,
    start: Annotated[InstantQuery | None, Query(alias="from", description="Sessions starting at or after; default: now.")] = None,
    end: Annotated[InstantQuery | None, Query(alias="to", description="...and before; default: 7 days after `from`, at most 93.")] = None,
    status: Annotated[schemas.Status | None, Query(description="Only sessions in this state.")] = None,
    client_id: Annotated[uuid.UUID | None, Query(description="Only this client's sessions.")] = None,
) -> Response:
    """A calendar by time range: your own (providers), any provider's or the whole group's (admins) (S5).

    Each entry carries the client's name; `client_id` narrows the calendar to one client's sessions.
    """
    # No SQLAlchemy session: one statement reads the page and writes its audit row (service.list_sessions).
    items, next_cursor = await service.list_sessions(
        reader, actor, group_id, page, provider_id=provider_id, start=start, end=end, status=status, client_id=client_id
    )
    # Serialised directly (the model documents it): a 200-session page through pydantic costs several ms. The
    # ids come as text, so orjson's `default` hook never runs per value.
    return json_response({"items": items, "next_cursor": next_cursor})


@sessions_router.get("/{session_id}", summary="Get a session", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.CALENDAR))
async def read_session(group_id: uuid.UUID, session_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.SessionOut:
    """One session, with its confirmation (pay date, arrival window) or cancellation."""
    return session_out(await service.read_session(db, actor, group_id, session_id))


@sessions_router.patch("/{session_id}", summary="Move a session or correct its details", responses=ERRORS, **allowed(Capability.CALENDAR))
async def update_session(
    group_id: uuid.UUID, session_id: uuid.UUID, body: schemas.SessionUpdate, actor: CurrentActor, db: DB,
    scope: Annotated[schemas.Scope, Query(description=SCOPE)] = "this",
) -> schemas.SessionOut:
    """Move a scheduled session, or correct a confirmed one's details within 48 hours of confirming (S3).

    In a series, `scope=following` or `all` moves the scheduled occurrences still to come as this one moves: by the
    same number of days, to the new local time of day (group's time zone); a new length or place applies to each.
    All move or none (409 `series_conflict` lists each occurrence in the way). Answers the addressed session.
    """
    return session_out(await series.update_series(db, actor, group_id, session_id, body, scope))


@sessions_router.post("/{session_id}/confirm", summary="Confirm a session that took place", dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CALENDAR))
async def confirm_session(
    group_id: uuid.UUID, session_id: uuid.UUID, body: schemas.ConfirmRequest, actor: CurrentActor, db: DB
) -> schemas.SessionOut:
    """Confirm a session that took place: its details, its pay date and arrival window (S3, S6)."""
    return session_out(await service.confirm_session(db, actor, group_id, session_id, body))


@sessions_router.post("/{session_id}/cancel", summary="Cancel a session", dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CALENDAR))
async def cancel_session(
    group_id: uuid.UUID, session_id: uuid.UUID, body: schemas.CancelRequest, actor: CurrentActor, db: DB,
    scope: Annotated[schemas.Scope, Query(description=SCOPE)] = "this",
) -> schemas.SessionOut:
    """Cancel before the start; a client's cancellation inside the policy's window is late and carries its fee (S4).

    In a series, `scope=following` or `all` cancels the scheduled occurrences still to come too. Answers the addressed session.
    """
    return session_out(await series.cancel_series(db, actor, group_id, session_id, body, scope))


@sessions_router.post("/{session_id}/no-show", summary="Record a no-show", responses=ERRORS, **allowed(Capability.CALENDAR))
async def record_no_show(group_id: uuid.UUID, session_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.SessionOut:
    """Record that the client did not come (once the session has started) (S4)."""
    return session_out(await service.record_no_show(db, actor, group_id, session_id))


@my_sessions_router.get(
    "", response_model=Page[schemas.MySessionOut], responses=problem_responses(401, 403, 422), **allowed(PERSON),
    summary="Your sessions as a client",
    description=(
        "The sessions booked for you as a client, in every practice you are a client of: `when=upcoming` (not yet "
        "ended, soonest first; the default) or `when=past` (latest first). Each shows the practice, the provider, "
        "the time (UTC), the place, the state and until when you can cancel it yourself."
    ),
)
async def my_sessions(
    actor: PersonActor, db: DB, page: PageQuery,
    when: Annotated[Literal["upcoming", "past"], Query(description="Upcoming (default) or past sessions.")] = "upcoming",
) -> Page[schemas.MySessionOut]:
    items, next_cursor = await client_side.my_sessions(db, actor, page, when)
    return Page(items=[schemas.MySessionOut.model_validate(i) for i in items], next_cursor=next_cursor)


@my_sessions_router.post(
    "/{session_id}/cancel", dependencies=[Idempotent], responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(PERSON),
    summary="Cancel one of your sessions",
    description=(
        "Cancels a scheduled session of yours before the practice's cancellation window opens (see "
        "`cancellable_until`). Inside the window the answer is 409 `inside_cancellation_window`: contact your "
        "provider; the problem shows the fee (`fee_cents`) a late cancellation carries under the practice's policy."
    ),
)
async def cancel_my_session(
    session_id: uuid.UUID, body: schemas.MyCancelRequest, actor: PersonActor, db: DB
) -> schemas.MySessionOut:
    return schemas.MySessionOut.model_validate(await client_side.cancel_my_session(db, actor, session_id, body.reason))


@my_sessions_router.put(
    "/reminders", responses=problem_responses(401, 403, 422), **allowed(PERSON),
    summary="Turn your session reminders on or off",
    description=(
        "Practices remind their clients of each session by mail (24 hours before by default, a practice setting). "
        "`enabled: false` stops these reminders for you in every practice; mails about a booking, a move or a "
        "cancellation still come."
    ),
)
async def set_my_reminders(body: schemas.RemindersIn, actor: PersonActor, db: DB) -> schemas.RemindersOut:
    return schemas.RemindersOut(enabled=await client_side.set_reminders(db, actor, body.enabled))
