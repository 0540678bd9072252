import uuid
from typing import Annotated

from fastapi import Depends, Query, Response


from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB, Reader, get_reader
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.responses import json_response
from app.core.routing import allowed, router
from app.core.schemas import InstantQuery
from app.models import TherapySession
from app.sessions import schemas, service

sessions_router = router("/v1/groups/{group_id}/sessions", "sessions")
ERRORS = problem_responses(401, 403, 404, 409, 422)




def session_out(session: TherapySession) -> schemas.SessionOut:
    return schemas.SessionOut.model_validate(service.session_document(session))


@sessions_router.post("", summary="Book a session", status_code=201, dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CALENDAR))
async def create_session(group_id: uuid.UUID, body: schemas.SessionCreate, actor: CurrentActor, db: DB) -> schemas.SessionOut:
    """Book a session with a client of the provider's roster; a double booking is refused with every conflict (S1, S2)."""
    return session_out(await service.create_session(db, actor, group_id, body))


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
) -> Response:
    """A calendar by time range: your own (providers), any provider's or the whole group's (admins) (S5)."""
    # No SQLAlchemy session: one statement reads the page and writes its audit row (service.list_sessions).
    items, next_cursor = await service.list_sessions(
        reader, actor, group_id, page, provider_id=provider_id, start=start, end=end, status=status
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
    group_id: uuid.UUID, session_id: uuid.UUID, body: schemas.SessionUpdate, actor: CurrentActor, db: DB
) -> schemas.SessionOut:
    """Move a scheduled session, or correct a confirmed one's details within 48 hours of confirming (S3)."""
    return session_out(await service.update_session(db, actor, group_id, session_id, body))


@sessions_router.post("/{session_id}/confirm", summary="Confirm a session that took place", dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CALENDAR))
async def confirm_session(
    group_id: uuid.UUID, session_id: uuid.UUID, body: schemas.ConfirmRequest, actor: CurrentActor, db: DB
) -> schemas.SessionOut:
    """Confirm a session that took place: its details, its pay date and arrival window (S3, S6)."""
    return session_out(await service.confirm_session(db, actor, group_id, session_id, body))


@sessions_router.post("/{session_id}/cancel", summary="Cancel a session", dependencies=[Idempotent], responses=ERRORS, **allowed(Capability.CALENDAR))
async def cancel_session(
    group_id: uuid.UUID, session_id: uuid.UUID, body: schemas.CancelRequest, actor: CurrentActor, db: DB
) -> schemas.SessionOut:
    """Cancel before the start; a client's cancellation inside the policy's window is late and carries its fee (S4)."""
    return session_out(await service.cancel_session(db, actor, group_id, session_id, body))


@sessions_router.post("/{session_id}/no-show", summary="Record a no-show", responses=ERRORS, **allowed(Capability.CALENDAR))
async def record_no_show(group_id: uuid.UUID, session_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.SessionOut:
    """Record that the client did not come (once the session has started) (S4)."""
    return session_out(await service.record_no_show(db, actor, group_id, session_id))
