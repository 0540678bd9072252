"""Who belongs to a group and with what rights (G2, G4, G5): members, admin grants, providers, ownership."""

import re
import secrets
import unicodedata
import uuid
from typing import Any

from sqlalchemy import Row, Select, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import Problem, conflict, not_found
from app.core.mail import send_mail
from app.core.pagination import PageParams, paginate
from app.models import AdminGrant, Group, Membership, ProviderProfile, User
from app.users.service import create_user, find_user_by_email, issue_verification_token

OPEN_GRANT_STATUSES = ("pending_approval", "pending_verification", "active")


def split_full_name(full_name: str) -> tuple[str, str]:
    parts = full_name.split()
    return (" ".join(parts[:-1]), parts[-1]) if len(parts) > 1 else (full_name.strip(), "")


async def invite_or_link(db: AsyncSession, *, email: str, full_name: str | None, group: Group, role: str) -> User:
    """G5: an email that has an account links it; otherwise an invited account is created and mailed."""
    user = await find_user_by_email(db, email)
    settings = get_settings()
    if user is not None:
        await send_mail(
            db,
            to=user.email,
            subject=f"You were added to {group.name} on Caseload",
            body=f"Hello {user.first_name},\n\nYou were added to {group.name} as {role}.\nLog in at {settings.public_url}/login.\n",
            template="member_added",
        )
        return user
    if not full_name:
        raise Problem(
            422,
            "full_name_required",
            f"{email} has no Caseload account yet: send their full_name so an invitation can be created.",
            errors=[{"field": "body.full_name", "message": "required for a person new to Caseload"}],
        )
    first_name, last_name = split_full_name(full_name)
    user = await create_user(db, email=email, first_name=first_name, last_name=last_name)
    secret = issue_verification_token(db, user)
    await send_mail(
        db,
        to=user.email,
        subject=f"You are invited to {group.name} on Caseload",
        body=(
            f"Hello {first_name},\n\n{group.name} invited you to join Caseload as {role}.\n"
            f"Choose a password to accept: {settings.public_url}/accept-invitation?token={secret}\n\n"
            f"The link works once and expires in {settings.verification_token_hours} hours.\n"
        ),
        template="invitation",
    )
    return user


async def active_membership(db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID) -> Membership | None:
    return await db.scalar(
        select(Membership)
        .where(Membership.group_id == group_id, Membership.user_id == user_id, Membership.ended_at.is_(None))
        .with_for_update()
    )


async def ensure_membership(db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID, **roles: bool) -> Membership:
    """Add roles to a person's active membership, creating it if they have none."""
    membership = await active_membership(db, group_id, user_id)
    if membership is None:
        membership = Membership(group_id=group_id, user_id=user_id, **roles)
        db.add(membership)
    else:
        for role, held in roles.items():
            if held:
                setattr(membership, role, True)
    await db.flush()
    return membership


def booking_slug(first_name: str, last_name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", f"{first_name} {last_name}").encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60] or "provider"
    return f"{base}-{secrets.token_hex(3)}"  # random suffix: unique without a lookup, and not guessable


async def make_provider(db: AsyncSession, group: Group, user: User, license_type: str) -> Membership:
    membership = await ensure_membership(db, group.id, user.id, is_provider=True)
    profile = await db.get(ProviderProfile, (group.id, user.id))
    if profile is None:
        db.add(
            ProviderProfile(
                group_id=group.id,
                user_id=user.id,
                license_type=license_type,
                display_name=f"{user.first_name} {user.last_name}".strip(),
                booking_slug=booking_slug(user.first_name, user.last_name),
            )
        )
    else:
        profile.license_type = license_type
    await db.flush()
    return membership


async def _group(db: AsyncSession, group_id: uuid.UUID) -> Group:
    group = await db.get(Group, group_id)
    if group is None:
        raise not_found("group")
    return group


async def add_provider(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, *, full_name: str, email: str, license_type: str
) -> tuple[Membership, User, str]:
    """G5: only the owner adds providers."""
    require(actor, Capability.PROVIDERS_ADD, group_id)
    group = await _group(db, group_id)
    user = await invite_or_link(db, email=email, full_name=full_name, group=group, role="provider")
    existing = await active_membership(db, group_id, user.id)
    if existing is not None and existing.is_provider:
        raise conflict("already_a_provider", "This person is already a provider of the group.", user_id=str(user.id))
    membership = await make_provider(db, group, user, license_type)
    await audit.record(db, actor, "membership.provider_added", target_type="user", target_id=user.id, group_id=group_id)
    return membership, user, license_type


def member_document(row: Row[Any]) -> dict[str, Any]:
    """A member as the API shows it (`MemberOut`), straight from a row of `_members_query`."""
    roles = [name for name, held in (("owner", row.is_owner), ("admin", row.is_admin), ("provider", row.is_provider)) if held]
    return {
        "user_id": row.user_id,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "email": row.email,
        "email_verified": row.email_verified_at is not None,
        "roles": roles,
        "license_type": row.license_type,
        "joined_at": row.created_at,
    }


def _members_query(group_id: uuid.UUID) -> Select[Any]:
    # Columns, not ORM entities: a 200-member page would otherwise build 400 tracked objects.
    return (
        select(
            Membership.id, Membership.created_at, Membership.user_id, Membership.is_owner, Membership.is_admin,
            Membership.is_provider, User.first_name, User.last_name, User.email, User.email_verified_at,
            ProviderProfile.license_type,
        )
        .join(User, User.id == Membership.user_id)
        .outerjoin(
            ProviderProfile,
            and_(ProviderProfile.group_id == Membership.group_id, ProviderProfile.user_id == Membership.user_id),
        )
        .where(Membership.group_id == group_id, Membership.ended_at.is_(None))
    )


async def list_members(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, page: PageParams
) -> tuple[list[dict[str, Any]], str | None]:
    require(actor, Capability.MEMBERS_READ, group_id)
    rows, next_cursor = await paginate(db, _members_query(group_id), page, keys=(Membership.created_at, Membership.id), rows=True)
    return [member_document(row) for row in rows], next_cursor


async def all_members(db: AsyncSession, group_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every active member, for a group just set up (small by construction)."""
    rows = await db.execute(_members_query(group_id).order_by(Membership.created_at, Membership.id))
    return [member_document(row) for row in rows]


async def grant_admin(
    db: AsyncSession, actor: Actor, group: Group, user: User, *, owner_consents: bool
) -> AdminGrant:
    """G4: the grant takes effect once the owner consented and the person's account is verified."""
    if user.id == actor.user_id:
        raise conflict("own_role", "Nobody can change their own role. Ask the group's owner.")
    membership = await active_membership(db, group.id, user.id)
    if membership is not None and (membership.is_admin or membership.is_owner):
        raise conflict("already_admin", "This person already holds admin rights in the group.")
    open_grant = await db.scalar(
        select(AdminGrant.id).where(
            AdminGrant.group_id == group.id, AdminGrant.user_id == user.id, AdminGrant.status.in_(OPEN_GRANT_STATUSES)
        )
    )
    if open_grant is not None:
        raise conflict("admin_grant_exists", "An admin grant for this person is already open.", grant_id=str(open_grant))
    grant = AdminGrant(
        group_id=group.id,
        user_id=user.id,
        requested_by_user_id=actor.user_id,
        status="pending_approval",
    )
    db.add(grant)
    await db.flush()
    if owner_consents:
        await _approve(db, grant, actor, user)
    await audit.record(
        db, actor, "admin_grant.requested", target_type="admin_grant", target_id=grant.id, group_id=group.id,
        user_id=str(user.id), status=grant.status,
    )
    return await _fresh(db, grant)


async def _approve(db: AsyncSession, grant: AdminGrant, actor: Actor, user: User) -> None:
    grant.decided_at = func.now()
    grant.decided_by_user_id = actor.user_id
    if user.email_verified:
        await _activate(db, grant)
    else:
        grant.status = "pending_verification"
    await db.flush()


async def _fresh(db: AsyncSession, grant: AdminGrant) -> AdminGrant:
    # Timestamps are the database's now(): read them back for the response.
    await db.refresh(grant)
    return grant


async def _activate(db: AsyncSession, grant: AdminGrant) -> None:
    grant.status = "active"
    grant.activated_at = func.now()
    await ensure_membership(db, grant.group_id, grant.user_id, is_admin=True)


async def request_admin_grant(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, *, email: str, full_name: str | None
) -> AdminGrant:
    grant = require(actor, Capability.ADMIN_GRANTS_REQUEST, group_id)
    group = await _group(db, group_id)
    user = await invite_or_link(db, email=email, full_name=full_name, group=group, role="admin")
    return await grant_admin(db, actor, group, user, owner_consents=grant.role.is_owner)


async def list_admin_grants(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, page: PageParams, *, status: str | None
) -> tuple[list[AdminGrant], str | None]:
    require(actor, Capability.ADMIN_GRANTS_REQUEST, group_id)
    stmt = select(AdminGrant).where(AdminGrant.group_id == group_id)
    if status:
        stmt = stmt.where(AdminGrant.status == status)
    return await paginate(db, stmt, page, keys=(AdminGrant.created_at, AdminGrant.id))


async def _grant_for_owner(db: AsyncSession, actor: Actor, group_id: uuid.UUID, grant_id: uuid.UUID) -> AdminGrant:
    require(actor, Capability.ADMIN_GRANTS_DECIDE, group_id)
    grant = await db.scalar(
        select(AdminGrant).where(AdminGrant.id == grant_id, AdminGrant.group_id == group_id).with_for_update()
    )
    if grant is None:
        raise not_found("admin grant")
    return grant


async def approve_admin_grant(db: AsyncSession, actor: Actor, group_id: uuid.UUID, grant_id: uuid.UUID) -> AdminGrant:
    grant = await _grant_for_owner(db, actor, group_id, grant_id)
    if grant.status != "pending_approval":
        raise conflict("grant_not_pending", f"This grant is {grant.status}; only a grant waiting for approval can be approved.")
    user = await db.get(User, grant.user_id)
    assert user is not None
    await _approve(db, grant, actor, user)
    await audit.record(db, actor, "admin_grant.approved", target_type="admin_grant", target_id=grant.id, group_id=group_id, status=grant.status)
    return await _fresh(db, grant)


async def reject_admin_grant(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, grant_id: uuid.UUID, *, reason: str | None
) -> AdminGrant:
    grant = await _grant_for_owner(db, actor, group_id, grant_id)
    if grant.status != "pending_approval":
        raise conflict("grant_not_pending", f"This grant is {grant.status}; only a grant waiting for approval can be rejected.")
    grant.status, grant.decided_at, grant.decided_by_user_id, grant.reason = "rejected", func.now(), actor.user_id, reason
    await db.flush()
    await audit.record(db, actor, "admin_grant.rejected", target_type="admin_grant", target_id=grant.id, group_id=group_id)
    return await _fresh(db, grant)


async def revoke_admin_grant(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, grant_id: uuid.UUID, *, reason: str | None
) -> AdminGrant:
    """The owner takes admin rights back (or withdraws a grant not yet in effect)."""
    grant = await _grant_for_owner(db, actor, group_id, grant_id)
    if grant.status not in OPEN_GRANT_STATUSES:
        raise conflict("grant_not_open", f"This grant is already {grant.status}.")
    was_active = grant.status == "active"
    grant.status, grant.decided_at, grant.decided_by_user_id, grant.reason = "revoked", func.now(), actor.user_id, reason
    if was_active:
        membership = await active_membership(db, group_id, grant.user_id)
        if membership is not None:
            membership.is_admin = False
            if not (membership.is_owner or membership.is_provider):
                membership.ended_at, membership.ended_reason = func.now(), "admin rights revoked"
    await db.flush()
    await audit.record(db, actor, "admin_grant.revoked", target_type="admin_grant", target_id=grant.id, group_id=group_id)
    return await _fresh(db, grant)


async def activate_verified_grants(db: AsyncSession, user_id: uuid.UUID) -> None:
    """G4: grants that waited for this person's verification take effect now."""
    grants = (
        await db.scalars(
            select(AdminGrant).where(AdminGrant.user_id == user_id, AdminGrant.status == "pending_verification").with_for_update()
        )
    ).all()
    for grant in grants:
        await _activate(db, grant)
        await audit.record(db, None, "admin_grant.activated", target_type="admin_grant", target_id=grant.id, group_id=grant.group_id)


async def transfer_ownership(db: AsyncSession, actor: Actor, group_id: uuid.UUID, *, user_id: uuid.UUID) -> None:
    """G2: there is always exactly one owner; the former owner stays on as an admin."""
    require(actor, Capability.OWNERSHIP_TRANSFER, group_id)
    if user_id == actor.user_id:
        raise conflict("own_role", "You already own this group.")
    target = await active_membership(db, group_id, user_id)
    if target is None:
        raise not_found("member")
    if await db.scalar(select(User.email_verified_at).where(User.id == user_id)) is None:
        raise conflict("account_not_verified", "The new owner must verify their account first.")
    current = await active_membership(db, group_id, actor.user_id)  # type: ignore[arg-type]
    assert current is not None and current.is_owner
    # Two statements, old owner first: the one-owner unique index holds after each.
    await db.execute(update(Membership).where(Membership.id == current.id).values(is_owner=False, is_admin=True))
    await db.execute(update(Membership).where(Membership.id == target.id).values(is_owner=True))
    await audit.record(db, actor, "group.ownership_transferred", target_type="user", target_id=user_id, group_id=group_id)
