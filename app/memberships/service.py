"""Who belongs to a group and with what rights (G2, G4, G5): members, admin grants, providers, ownership."""

import re
import secrets
import unicodedata
import uuid
from typing import Any

from sqlalchemy import Row, Select, and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, require
from app.core.errors import conflict, not_found
from app.core.mail import send_mail
from app.core.pagination import PageParams, paginate
from app.invitations import service as invitations
from app.models import AdminGrant, Group, Invitation, Membership, ProviderProfile, User
from app.core.auth import GroupRole
from app.users.service import create_user, find_user_by_email, issue_verification_token, normalize_email
from app.webhooks.events import emit

OPEN_GRANT_STATUSES = ("pending_approval", "pending_verification", "active")


def split_full_name(full_name: str) -> tuple[str, str]:
    parts = full_name.split()
    return (" ".join(parts[:-1]), parts[-1]) if len(parts) > 1 else (full_name.strip(), "")


async def person_for(db: AsyncSession, *, email: str, full_name: str | None) -> tuple[User, bool]:
    """The account of an email, or a new invited one (with the name typed, if any). Returns it and whether it is
    new. Nothing here may answer differently for the two (A10): callers invite the person either way."""
    user = await find_user_by_email(db, email)
    if user is not None:
        return user, False
    first_name, last_name = split_full_name(full_name or "")
    return await create_user(db, email=email, first_name=first_name, last_name=last_name), True


async def send_account_invitation(db: AsyncSession, user: User, group: Group, role: str) -> None:
    """A new account's invitation: choosing a password accepts it, and what the practice asked with it."""
    settings = get_settings()
    secret = issue_verification_token(db, user)
    await send_mail(
        db,
        to=user.email,
        subject=f"You are invited to {group.name} on Caseload",
        body=(
            f"Hello,\n\n{group.name} invited you to join Caseload as {role}.\n"
            f"Choose a password to accept: {settings.public_url}/accept-invitation?token={secret}\n\n"
            f"The link works once and expires in {settings.verification_token_hours} hours. "
            "If you do not expect this, ignore it: nothing is shared until you accept.\n"
        ),
        template="invitation",
    )


async def invite_person(
    db: AsyncSession, actor_user_id: uuid.UUID | None, group: Group, user: User, *, created: bool, kind: str,
    role: str, **link: Any,
) -> None:
    """The invitation for `kind` and its mail: the account's own invitation for a new account, else a consent mail."""
    await invitations.invite(db, group=group, user=user, kind=kind, invited_by=actor_user_id, with_account=created, **link)
    if created:
        await send_account_invitation(db, user, group, role)


async def notify_role(db: AsyncSession, user: User, group: Group, role: str) -> None:
    """A member of the group already (the group knows them) was given another role: they are told."""
    await send_mail(
        db,
        to=user.email,
        subject=f"Your role in {group.name} on Caseload",
        body=f"Hello,\n\nYou are now {role} of {group.name} on Caseload.\nLog in at {get_settings().public_url}/login.\n",
        template="member_added",
    )


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
        await emit(db, group_id, "member.added", user_id, sorted(role for role, held in roles.items() if held))
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
) -> dict[str, Any]:
    """G5 (owner only), A10: the person is invited and becomes a provider on accepting. The answer is the same
    whether or not the email has an account: what was typed, `invited`. A member of the group already (the
    group knows them) becomes a provider at once."""
    require(actor, Capability.PROVIDERS_ADD, group_id)
    group = await _group(db, group_id)
    user, created = await person_for(db, email=email, full_name=full_name)
    existing = await active_membership(db, group_id, user.id)
    if existing is not None and existing.is_provider:
        raise conflict("already_a_provider", "This person is already a provider of the group.", user_id=str(user.id))
    if existing is not None:
        membership = await make_provider(db, group, user, license_type)
        await notify_role(db, user, group, "a provider")
        await audit.record(db, actor, "membership.provider_added", target_type="user", target_id=user.id, group_id=group_id)
        role = GroupRole(group_id, "", membership.is_owner, membership.is_admin, membership.is_provider)
        return {
            "status": "active", "user_id": user.id, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "email_verified": user.email_verified, "roles": role.roles,
            "license_type": license_type, "joined_at": membership.created_at,
        }
    if await _open_invitation(db, group_id, user.id, "provider"):
        raise conflict("invitation_pending", "This email was already invited as a provider; the person has not answered yet.")
    await invite_person(db, actor.user_id, group, user, created=created, kind="provider", role="provider", license_type=license_type)
    await audit.record(db, actor, "membership.provider_invited", target_type="group", target_id=group_id, group_id=group_id)
    first_name, last_name = split_full_name(full_name)
    return {
        "status": "invited", "user_id": None, "first_name": first_name, "last_name": last_name,
        "email": normalize_email(email), "email_verified": False, "roles": [], "license_type": license_type, "joined_at": None,
    }


async def _open_invitation(db: AsyncSession, group_id: uuid.UUID, user_id: uuid.UUID, kind: str) -> bool:
    found = await db.scalar(
        select(Invitation.id).where(
            Invitation.group_id == group_id, Invitation.user_id == user_id, Invitation.kind == kind, Invitation.status == "pending"
        ).limit(1)
    )
    return found is not None


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
    db: AsyncSession, actor: Actor, group: Group, user: User, *, owner_consents: bool, created: bool = False
) -> AdminGrant:
    """G4, A10: the grant takes effect once the owner consented, the person accepted and their account is verified.
    The person is invited (mailed) only once the owner consented."""
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
        await _approve(db, grant, actor.user_id, user, group, created=created)
    await audit.record(
        db, actor, "admin_grant.requested", target_type="admin_grant", target_id=grant.id, group_id=group.id,
        status=grant.status,
    )
    return await _fresh(db, grant)


async def _approve(
    db: AsyncSession, grant: AdminGrant, decided_by: uuid.UUID | None, user: User, group: Group, *, created: bool | None = None
) -> None:
    """The owner consented: a member of the group who is verified is an admin now; anyone else is invited."""
    grant.decided_at = func.now()
    grant.decided_by_user_id = decided_by
    grant.status = "pending_verification"
    await db.flush()
    membership = await active_membership(db, group.id, user.id)
    if membership is not None and user.email_verified:
        await activate(db, grant)
        await notify_role(db, user, group, "an admin")
    else:
        if created is None:
            # Approved later: an account nobody claimed and tied to nothing else was made by this request, and
            # gets the account's own invitation.
            created = user.password_hash is None and not await _tied(db, user.id, grant.id)
        await invite_person(db, decided_by, group, user, created=created, kind="admin", role="admin", admin_grant_id=grant.id)
    await db.flush()


async def _tied(db: AsyncSession, user_id: uuid.UUID, grant_id: uuid.UUID) -> bool:
    """The account has something besides this grant: an invitation, a membership, a client record, another grant."""
    from app.models import Client

    return bool(await db.scalar(select(
        exists().where(Invitation.user_id == user_id)
        | exists().where(Membership.user_id == user_id)
        | exists().where(Client.user_id == user_id)
        | exists().where(AdminGrant.user_id == user_id, AdminGrant.id != grant_id)
    )))


async def _fresh(db: AsyncSession, grant: AdminGrant) -> AdminGrant:
    # Timestamps are the database's now(): read them back for the response.
    await db.refresh(grant)
    return grant


async def activate(db: AsyncSession, grant: AdminGrant) -> None:
    grant.status = "active"
    grant.activated_at = func.now()
    await ensure_membership(db, grant.group_id, grant.user_id, is_admin=True)


async def approve_setup_grants(db: AsyncSession, group: Group, requested_by: uuid.UUID | None) -> None:
    """G4: admins named when staff set the group up on the owner's behalf wait for the owner's acceptance."""
    owner_id = await db.scalar(select(Membership.user_id).where(Membership.group_id == group.id, Membership.is_owner, Membership.ended_at.is_(None)))
    grants = list(await db.scalars(
        select(AdminGrant).where(
            AdminGrant.group_id == group.id, AdminGrant.status == "pending_approval",
            AdminGrant.requested_by_user_id.is_not_distinct_from(requested_by),
        ).order_by(AdminGrant.created_at, AdminGrant.id).with_for_update()
    ))
    for grant in grants:
        user = await db.get(User, grant.user_id)
        assert user is not None
        await _approve(db, grant, owner_id, user, group)
        await audit.record(db, None, "admin_grant.approved", target_type="admin_grant", target_id=grant.id, group_id=group.id, status=grant.status)


async def request_admin_grant(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, *, email: str, full_name: str | None
) -> AdminGrant:
    grant = require(actor, Capability.ADMIN_GRANTS_REQUEST, group_id)
    group = await _group(db, group_id)
    user, created = await person_for(db, email=email, full_name=full_name)
    return await grant_admin(db, actor, group, user, owner_consents=grant.role.is_owner, created=created)


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
    await _approve(db, grant, actor.user_id, user, await _group(db, group_id))
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
            select(AdminGrant).where(
                AdminGrant.user_id == user_id, AdminGrant.status == "pending_verification",
                # A10: not while the person has not accepted the invitation (a verified mailbox is not a yes).
                ~exists().where(Invitation.admin_grant_id == AdminGrant.id, Invitation.status != "accepted"),
            ).with_for_update()
        )
    ).all()
    for grant in grants:
        await activate(db, grant)
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
