"""Group practices (G1-G3): setting one up in one request, reading and renaming it."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, require, require_verified
from app.core.errors import Problem, not_found
from app.core.pagination import PageParams, paginate
from app.groups.schemas import GroupCreate
from app.memberships import service as memberships
from app.models import AdminGrant, Group, Membership, User


async def create_group(db: AsyncSession, actor: Actor, body: GroupCreate) -> tuple[Group, list[AdminGrant]]:
    """G3: the group, its owner, admins and providers in one transaction; the caller owns it (staff: `owner`)."""
    require_verified(actor)
    if body.owner is not None and not actor.is_staff:
        raise Problem(
            422,
            "privileged_field",
            "Only Caseload staff may set a group up on someone else's behalf; leave `owner` out.",
            errors=[{"field": "body.owner", "message": "staff only"}],
        )
    group = Group(id=uuid.uuid4(), name=body.name or "", time_zone=body.time_zone)
    db.add(group)
    await db.flush()
    if body.owner is not None:
        # Staff set the group up on the owner's behalf: the owner is invited, and the admins named wait for
        # the owner's acceptance (G4, A10).
        owner, owner_created = await memberships.person_for(db, email=body.owner.email, full_name=body.owner.full_name)
    else:
        owner, owner_created = await db.get(User, actor.user_id), False
        assert owner is not None
    # G1: no formal practice name -> the owner's first and last name.
    group.name = body.name or f"{owner.first_name} {owner.last_name}".strip()
    db.add(Membership(group_id=group.id, user_id=owner.id, is_owner=True))
    await db.flush()
    if body.owner is not None:
        await memberships.invite_person(db, actor.user_id, group, owner, created=owner_created, kind="owner", role="owner")
    if body.owner_is_provider:
        await memberships.make_provider(db, group, owner, str(body.owner_license_type))
    await audit.record(db, actor, "group.created", target_type="group", target_id=group.id, group_id=group.id, owner_user_id=str(owner.id))

    # Providers are invited (A10): whether an email has an account changes nothing in the answer, so an email
    # marked `existing` that has none is invited like a new one.
    for provider in body.providers:
        user, created = await memberships.person_for(db, email=provider.email, full_name=provider.full_name)
        if user.id == owner.id:
            continue  # the owner's provider role comes from owner_is_provider
        await memberships.invite_person(db, actor.user_id, group, user, created=created, kind="provider", role="provider",
                                        license_type=str(provider.license_type))
        await audit.record(db, actor, "membership.provider_invited", target_type="group", target_id=group.id, group_id=group.id)

    # The owner setting the group up consents to every admin listed (G4); listed by staff, they wait for the owner.
    owner_actor = Actor(kind="user", id=owner.id, memberships={})
    grants = []
    for admin in body.admins:
        user, created = await memberships.person_for(db, email=admin.email, full_name=admin.full_name)
        if user.id == owner.id:
            continue  # the owner has every admin capability already (G2)
        if body.owner is None:
            grants.append(await memberships.grant_admin(db, owner_actor, group, user, owner_consents=True, created=created))
        else:
            grants.append(await memberships.grant_admin(db, actor, group, user, owner_consents=False, created=created))
    return group, grants


async def list_groups(db: AsyncSession, actor: Actor, page: PageParams) -> tuple[list[Group], str | None]:
    stmt = select(Group).where(Group.id.in_(list(actor.memberships)))
    return await paginate(db, stmt, page, keys=(Group.created_at, Group.id))


async def get_group(db: AsyncSession, actor: Actor, group_id: uuid.UUID) -> Group:
    require(actor, Capability.MEMBERS_READ, group_id)
    return await _load(db, group_id)


async def _load(db: AsyncSession, group_id: uuid.UUID) -> Group:
    group = await db.get(Group, group_id)
    if group is None:
        raise not_found("group")
    return group


async def update_group(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, *, name: str | None, time_zone: str | None
) -> Group:
    require(actor, Capability.GROUP_EDIT, group_id)
    group = await _load(db, group_id)
    changed = [field for field, value in (("name", name), ("time_zone", time_zone)) if value is not None]
    if name is not None:
        group.name = name
    if time_zone is not None:
        group.time_zone = time_zone
    await db.flush()
    await audit.record(db, actor, "group.updated", target_type="group", target_id=group_id, group_id=group_id, fields=changed)
    return group
