import uuid
from typing import Annotated, Literal

from fastapi import Query, Response

from app.core.auth import CurrentActor
from app.core.authz import Capability
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.responses import json_response
from app.core.routing import allowed, router
from app.memberships import removal, schemas, service

memberships_router = router("/v1/groups/{group_id}", "memberships")
GrantStatus = Literal["pending_approval", "pending_verification", "active", "rejected", "revoked"]


@memberships_router.get(
    "/members", summary="List the group's members",
    response_model=Page[schemas.MemberOut],
    responses=problem_responses(401, 403, 404, 422),
    **allowed(Capability.MEMBERS_READ),
)
async def list_members(group_id: uuid.UUID, actor: CurrentActor, db: DB, page: PageQuery) -> Response:
    """The group's active members with their roles."""
    members, next_cursor = await service.list_members(db, actor, group_id, page)
    # Serialised directly (the model documents it): a 200-member page through pydantic costs several ms.
    return json_response({"items": members, "next_cursor": next_cursor})


@memberships_router.post(
    "/providers", summary="Invite a provider",
    status_code=201,
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.PROVIDERS_ADD),
)
async def add_provider(group_id: uuid.UUID, body: schemas.ProviderAdd, actor: CurrentActor, db: DB) -> schemas.ProviderAddOut:
    """Invite a provider (owner only). The person is mailed and becomes a provider of the group on accepting;
    until then the answer shows what you typed, the same whether or not the email has a Caseload account."""
    added = await service.add_provider(
        db, actor, group_id, full_name=body.full_name, email=body.email, license_type=body.license_type
    )
    return schemas.ProviderAddOut.model_validate(added)


@memberships_router.post(
    "/admin-grants", summary="Request admin rights for a person",
    status_code=201,
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.ADMIN_GRANTS_REQUEST),
)
async def request_admin_grant(
    group_id: uuid.UUID, body: schemas.AdminGrantRequest, actor: CurrentActor, db: DB
) -> schemas.AdminGrantOut:
    """Ask for admin rights for a person. They take effect once the owner consented (a request by another admin
    waits for the owner's approval) and the person accepted the mailed invitation with a verified account. The
    answer is the same whether or not the email has a Caseload account."""
    grant = await service.request_admin_grant(db, actor, group_id, email=body.email, full_name=body.full_name)
    return schemas.AdminGrantOut.model_validate(grant)


@memberships_router.get(
    "/admin-grants", summary="List admin grants", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.ADMIN_GRANTS_REQUEST)
)
async def list_admin_grants(
    group_id: uuid.UUID,
    actor: CurrentActor,
    db: DB,
    page: PageQuery,
    status: Annotated[GrantStatus | None, Query(description="Only grants in this state.")] = None,
) -> Page[schemas.AdminGrantOut]:
    """The group's admin grants, oldest first."""
    grants, next_cursor = await service.list_admin_grants(db, actor, group_id, page, status=status)
    return Page(items=[schemas.AdminGrantOut.model_validate(g) for g in grants], next_cursor=next_cursor)


@memberships_router.post(
    "/admin-grants/{grant_id}/approve", summary="Approve an admin grant",
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.ADMIN_GRANTS_DECIDE),
)
async def approve_admin_grant(group_id: uuid.UUID, grant_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.AdminGrantOut:
    """Approve a pending admin grant (owner only); it takes effect once the person's account is verified."""
    return schemas.AdminGrantOut.model_validate(await service.approve_admin_grant(db, actor, group_id, grant_id))


@memberships_router.post(
    "/admin-grants/{grant_id}/reject", summary="Reject an admin grant",
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.ADMIN_GRANTS_DECIDE),
)
async def reject_admin_grant(
    group_id: uuid.UUID, grant_id: uuid.UUID, body: schemas.GrantDecision, actor: CurrentActor, db: DB
) -> schemas.AdminGrantOut:
    """Reject a pending admin grant (owner only)."""
    grant = await service.reject_admin_grant(db, actor, group_id, grant_id, reason=body.reason)
    return schemas.AdminGrantOut.model_validate(grant)


@memberships_router.post(
    "/admin-grants/{grant_id}/revoke", summary="Revoke an admin grant",
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.ADMIN_GRANTS_DECIDE),
)
async def revoke_admin_grant(
    group_id: uuid.UUID, grant_id: uuid.UUID, body: schemas.GrantDecision, actor: CurrentActor, db: DB
) -> schemas.AdminGrantOut:
    """Take admin rights back, or withdraw a grant not yet in effect (owner only)."""
    grant = await service.revoke_admin_grant(db, actor, group_id, grant_id, reason=body.reason)
    return schemas.AdminGrantOut.model_validate(grant)


@memberships_router.post(
    "/ownership-transfer", summary="Transfer ownership of the group",
    status_code=204,
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.OWNERSHIP_TRANSFER),
)
async def transfer_ownership(group_id: uuid.UUID, body: schemas.OwnershipTransfer, actor: CurrentActor, db: DB) -> None:
    """Hand the group to another verified member (owner only); you stay on as an admin."""
    await service.transfer_ownership(db, actor, group_id, user_id=body.user_id)


@memberships_router.post(
    "/members/{user_id}/removal", summary="Remove a provider from the group",
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 404, 409, 422),
    **allowed(Capability.PROVIDERS_REMOVE),
)
async def remove_provider(
    group_id: uuid.UUID, user_id: uuid.UUID, body: removal.RemovalIn, actor: CurrentActor, db: DB
) -> removal.RemovalOut:
    """Remove a provider (an admin, not the provider): refused with 409 listing each blocker while work is open (G6)."""
    return await removal.remove_provider(db, actor, group_id, user_id, reason=body.reason)
