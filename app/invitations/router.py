import uuid
from typing import Annotated

from fastapi import Query

from app.core.auth import PersonActor
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.pagination import Page, PageQuery
from app.core.routing import PERSON, PUBLIC, allowed, router
from app.invitations import schemas, service

my_invitations_router = router("/v1/me/invitations", "invitations")
invitations_router = router("/v1/invitations", "invitations")
TOKEN_ERRORS = problem_responses(404, 409, 410, 422)


@my_invitations_router.get("", summary="List your invitations", response_model=Page[schemas.InvitationOut], responses=problem_responses(401, 403, 422), **allowed(PERSON))
async def list_my_invitations(
    actor: PersonActor, db: DB, page: PageQuery,
    status: Annotated[schemas.InvitationStatus | None, Query(description="Only invitations in this state.")] = None,
) -> Page[schemas.InvitationOut]:
    """Practices that asked to add you (as client, provider, admin or owner), oldest first."""
    rows, next_cursor = await service.list_mine(db, actor, page, status=status)
    return Page(items=[schemas.InvitationOut.of(invitation, name) for invitation, name in rows], next_cursor=next_cursor)


@my_invitations_router.post(
    "/{invitation_id}/accept", summary="Accept an invitation", responses=problem_responses(401, 403, 404, 409, 410, 422), **allowed(PERSON)
)
async def accept_my_invitation(invitation_id: uuid.UUID, actor: PersonActor, db: DB) -> schemas.InvitationOut:
    """Accept: the practice then sees what you entered yourself, or your role there takes effect."""
    return schemas.InvitationOut.of(*await service.accept_mine(db, actor, invitation_id))


@my_invitations_router.post(
    "/{invitation_id}/decline", summary="Decline an invitation", responses=problem_responses(401, 403, 404, 409, 410, 422), **allowed(PERSON)
)
async def decline_my_invitation(invitation_id: uuid.UUID, actor: PersonActor, db: DB) -> schemas.InvitationOut:
    """Decline: the practice keeps only what it typed itself and learns nothing about your account."""
    return schemas.InvitationOut.of(*await service.decline_mine(db, actor, invitation_id))


@invitations_router.post("/accept", summary="Accept an invitation from its link", responses=TOKEN_ERRORS, **allowed(PUBLIC))
async def accept_invitation_by_link(body: schemas.InvitationToken, db: DB) -> schemas.InvitationAnswer:
    """Accept an invitation with the token of its mailed link (works once, expires)."""
    invitation = await service.accept_by_token(db, body.token)
    return schemas.InvitationAnswer(status=invitation.status, kind=invitation.kind)  # type: ignore[arg-type]


@invitations_router.post("/decline", summary="Decline an invitation from its link", responses=TOKEN_ERRORS, **allowed(PUBLIC))
async def decline_invitation_by_link(body: schemas.InvitationToken, db: DB) -> schemas.InvitationAnswer:
    """Decline an invitation with the token of its mailed link."""
    invitation = await service.decline_by_token(db, body.token)
    return schemas.InvitationAnswer(status=invitation.status, kind=invitation.kind)  # type: ignore[arg-type]
