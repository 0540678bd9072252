import uuid

from app.core.auth import CurrentActor, PersonActor
from app.core.authz import Capability, membership
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.routing import AUTHENTICATED, PERSON, allowed, router
from app.groups import schemas, service
from app.memberships.schemas import AdminGrantOut, MemberOut
from app.memberships.service import all_members

groups_router = router("/v1/groups", "groups")


@groups_router.post(
    "", summary="Create a group practice",
    status_code=201,
    dependencies=[Idempotent],
    responses=problem_responses(401, 403, 409, 422),
    **allowed(PERSON),
)
async def create_group(body: schemas.GroupCreate, actor: PersonActor, db: DB) -> schemas.GroupSetupOut:
    """Set up a group practice in one request: its name, time zone, admins and providers; you become its owner."""
    group, grants = await service.create_group(db, actor, body)
    members = [MemberOut.model_validate(m) for m in await all_members(db, group.id)]
    roles = next((m.roles for m in members if m.user_id == actor.user_id), [])
    return schemas.GroupSetupOut(
        group=schemas.GroupOut.of(group, roles),
        members=members,
        admin_grants=[AdminGrantOut.model_validate(g) for g in grants],
    )


@groups_router.get("", summary="List your groups", responses=problem_responses(401, 422), **allowed(AUTHENTICATED))
async def list_groups(actor: CurrentActor, db: DB, page: PageQuery) -> Page[schemas.GroupOut]:
    """The groups you belong to, with your roles in each."""
    groups, next_cursor = await service.list_groups(db, actor, page)
    return Page(items=[schemas.GroupOut.of(g, actor.memberships[g.id].roles) for g in groups], next_cursor=next_cursor)


@groups_router.get("/{group_id}", summary="Get a group", responses=problem_responses(401, 404, 422), **allowed(Capability.MEMBERS_READ))
async def read_group(group_id: uuid.UUID, actor: CurrentActor, db: DB) -> schemas.GroupOut:
    """A group you belong to."""
    group = await service.get_group(db, actor, group_id)
    return schemas.GroupOut.of(group, membership(actor, group_id).roles)


@groups_router.patch(
    "/{group_id}", summary="Update a group", responses=problem_responses(401, 403, 404, 422), **allowed(Capability.GROUP_EDIT)
)
async def update_group(group_id: uuid.UUID, body: schemas.GroupUpdate, actor: CurrentActor, db: DB) -> schemas.GroupOut:
    """Rename the group or change its time zone (admins)."""
    group = await service.update_group(db, actor, group_id, name=body.name, time_zone=body.time_zone)
    return schemas.GroupOut.of(group, membership(actor, group_id).roles)

