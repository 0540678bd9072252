"""Consent before linking (A10, C8, G4, G5): invitations a person accepts or declines.

A practice that adds an email (client, provider, admin) gets the same answer whether or not the email has an
account; the person is told by mail and decides. Until they accept, the practice has only what it typed:
a client record in its own words, a provider or admin role not yet in effect. An invitation made together
with a new account (`with_account`) rides on that account's own invitation mail and is accepted with it.
"""

import uuid
from datetime import timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.core import audit, tokens
from app.core.auth import Actor
from app.core.errors import Problem, not_found
from app.core.mail import send_mail
from app.core.pagination import PageParams, paginate
from app.models import AdminGrant, Client, Group, Invitation, User

INVITATION_PREFIX = "cin_"  # like core/tokens: a leaked value tells its kind
INVITATION_DAYS = 14
ROLE_WORDS = {"client": "a client", "provider": "a provider", "admin": "an admin", "owner": "the owner"}


async def invite(
    db: AsyncSession,
    *,
    group: Group,
    user: User,
    kind: str,
    invited_by: uuid.UUID | None,
    with_account: bool,
    client_id: uuid.UUID | None = None,
    admin_grant_id: uuid.UUID | None = None,
    license_type: str | None = None,
) -> Invitation:
    """A pending invitation, mailed now. With `with_account`, the account's own invitation (sent by the caller)
    carries it: no second mail, and accepting the account accepts it."""
    invitation = Invitation(
        id=uuid.uuid4(), group_id=group.id, user_id=user.id, kind=kind, client_id=client_id,
        admin_grant_id=admin_grant_id, license_type=license_type, with_account=with_account,
        invited_by_user_id=invited_by, expires_at=func.now() + timedelta(days=INVITATION_DAYS),
    )
    db.add(invitation)
    if not with_account:
        await mail_invitation(db, invitation, group, user)
    await db.flush()
    return invitation


async def mail_invitation(db: AsyncSession, invitation: Invitation, group: Group, user: User) -> None:
    """The invitation's mail with a fresh single-use link (a new one replaces any earlier link)."""
    settings = get_settings()
    secret = tokens.new_secret(INVITATION_PREFIX)
    invitation.token_hash = tokens.digest(secret)
    await send_mail(
        db,
        to=user.email,
        subject=f"{group.name} invites you on Caseload",
        body=(
            f"Hello,\n\n{group.name} would like to add you as {ROLE_WORDS[invitation.kind]} on Caseload.\n"
            "Nothing is shared with them until you accept.\n\n"
            f"Accept: {settings.public_url}/invitations/accept?token={secret}\n"
            f"Decline: {settings.public_url}/invitations/decline?token={secret}\n\n"
            f"Or log in at {settings.public_url}/login and answer it there. The link works once and expires in "
            f"{INVITATION_DAYS} days.\n"
        ),
        template="invitation_consent",
    )


def _invalid_token() -> Problem:
    return Problem(404, "invitation_token_unknown", "This invitation link is not valid. Log in to see your pending invitations.")


async def _by_token(db: AsyncSession, secret: str) -> Invitation:
    invitation = await db.scalar(
        select(Invitation).where(Invitation.token_hash == tokens.digest(secret)).with_for_update()
    )
    if invitation is None:
        raise _invalid_token()
    await _still_open(db, invitation)
    return invitation


async def _still_open(db: AsyncSession, invitation: Invitation) -> None:
    if invitation.status != "pending":
        raise Problem(409, "invitation_used", f"This invitation was already answered ({invitation.status}).",
                      status_now=invitation.status)
    now = await db.scalar(select(func.now()))
    if invitation.expires_at is not None and invitation.expires_at <= now:
        raise Problem(410, "invitation_expired", "This invitation has expired. Ask the practice to invite you again.")


async def accept_by_token(db: AsyncSession, secret: str) -> Invitation:
    """The mailed link: following it proves the mailbox, so an account that was never verified is now."""
    invitation = await _by_token(db, secret)
    user = await db.get(User, invitation.user_id, with_for_update=True)
    assert user is not None
    if user.email_verified_at is None and user.password_hash is not None:
        user.email_verified_at = func.now()
        await db.flush()
        await db.refresh(user)
        await audit.record(db, None, "user.email_verified", target_type="user", target_id=user.id)
    await _accept(db, invitation, user, None)
    return invitation


async def decline_by_token(db: AsyncSession, secret: str) -> Invitation:
    invitation = await _by_token(db, secret)
    await _decline(db, invitation, None)
    return invitation


def _mine(actor: Actor):  # noqa: ANN202 - a SELECT of the caller's invitations
    return select(Invitation, Group.name).join(Group, Group.id == Invitation.group_id).where(Invitation.user_id == actor.user_id)


async def list_mine(
    db: AsyncSession, actor: Actor, page: PageParams, *, status: str | None
) -> tuple[list[tuple[Invitation, str]], str | None]:
    stmt = _mine(actor)
    if status is not None:
        stmt = stmt.where(Invitation.status == status)
    rows, next_cursor = await paginate(db, stmt, page, keys=(Invitation.created_at, Invitation.id), rows=True)
    return [(row[0], row[1]) for row in rows], next_cursor


async def _my_invitation(db: AsyncSession, actor: Actor, invitation_id: uuid.UUID) -> Invitation:
    invitation = await db.scalar(
        select(Invitation).where(Invitation.id == invitation_id, Invitation.user_id == actor.user_id).with_for_update()
    )
    if invitation is None:
        raise not_found("invitation")
    await _still_open(db, invitation)
    return invitation


async def accept_mine(db: AsyncSession, actor: Actor, invitation_id: uuid.UUID) -> tuple[Invitation, str]:
    invitation = await _my_invitation(db, actor, invitation_id)
    user = await db.get(User, invitation.user_id)
    assert user is not None
    await _accept(db, invitation, user, actor)
    return invitation, await _group_name(db, invitation.group_id)


async def decline_mine(db: AsyncSession, actor: Actor, invitation_id: uuid.UUID) -> tuple[Invitation, str]:
    invitation = await _my_invitation(db, actor, invitation_id)
    await _decline(db, invitation, actor)
    return invitation, await _group_name(db, invitation.group_id)


async def _group_name(db: AsyncSession, group_id: uuid.UUID) -> str:
    return (await db.scalar(select(Group.name).where(Group.id == group_id))) or ""


async def accept_account_invitations(db: AsyncSession, user_id: uuid.UUID) -> None:
    """The person accepted their new account's invitation: what came with the account is accepted too."""
    invitations = list(await db.scalars(
        select(Invitation).where(Invitation.user_id == user_id, Invitation.with_account, Invitation.status == "pending")
        .order_by(Invitation.created_at, Invitation.id).with_for_update()
    ))
    if not invitations:
        return
    user = await db.get(User, user_id)
    assert user is not None
    for invitation in invitations:
        await _accept(db, invitation, user, None)


async def accept_client_invitations(db: AsyncSession, actor: Actor, client_id: uuid.UUID) -> None:
    """The person themselves booked with the practice that invited them: that is a yes."""
    pending = list(await db.scalars(
        select(Invitation).where(Invitation.client_id == client_id, Invitation.user_id == actor.user_id,
                                 Invitation.status == "pending").with_for_update()
    ))
    for invitation in pending:
        user = await db.get(User, invitation.user_id)
        assert user is not None
        await _accept(db, invitation, user, actor)


async def _accept(db: AsyncSession, invitation: Invitation, user: User, actor: Actor | None) -> None:
    # Imported here: memberships imports this module to invite.
    from app.memberships import service as memberships

    invitation.status, invitation.decided_at, invitation.token_hash = "accepted", func.now(), None
    await db.flush()
    group = await db.get(Group, invitation.group_id)
    assert group is not None
    if invitation.kind == "client" and invitation.client_id is not None:
        values: dict[str, object] = {"consented_at": func.now()}
        if actor is not None or user.password_hash is not None:
            # From now on the practice sees the person's own name and email, not what it typed (C8); an account
            # nobody has claimed yet (no password, not logged in) holds what another practice typed: not copied.
            values.update(first_name=user.first_name, last_name=user.last_name, email=user.email)
        await db.execute(update(Client).where(Client.id == invitation.client_id).values(**values))
        await _link_sessions(db, invitation.client_id, user.id)
    elif invitation.kind == "provider":
        await memberships.make_provider(db, group, user, invitation.license_type or "Other")
        await audit.record(db, actor, "membership.provider_added", target_type="user", target_id=user.id, group_id=group.id)
    elif invitation.kind == "admin" and invitation.admin_grant_id is not None:
        grant = await db.get(AdminGrant, invitation.admin_grant_id, with_for_update=True)
        if grant is not None and grant.status == "pending_verification" and user.email_verified_at is not None:
            await memberships.activate(db, grant)
    elif invitation.kind == "owner":
        await memberships.approve_setup_grants(db, group, invitation.invited_by_user_id)
    await audit.record(db, actor, "invitation.accepted", target_type="invitation", target_id=invitation.id,
                       group_id=invitation.group_id, kind=invitation.kind)
    await db.refresh(invitation)


# S7, C8: the practice's sessions of this client become the person's (they were held per client record only). A
# live session overlapping one the person already has elsewhere stays unlinked (NOT EXISTS below) instead of
# failing the exclusion constraint: accepting never fails, and the practices sort out the overlap themselves.
_LINK_SESSIONS = text("""
UPDATE sessions s SET client_user_id = :person
 WHERE s.client_id = :client AND s.client_user_id IS NULL
   AND (s.status IN ('cancelled', 'late_cancelled') OR NOT EXISTS (
        SELECT 1 FROM sessions o
         WHERE o.client_user_id = :person AND o.client_id <> :client
           AND o.status NOT IN ('cancelled', 'late_cancelled')
           AND o.starts_at < s.ends_at AND o.ends_at > s.starts_at))
""")


async def _link_sessions(db: AsyncSession, client_id: uuid.UUID, person_id: uuid.UUID) -> None:
    for attempt in range(1, 4):
        try:
            async with db.begin_nested():
                await db.execute(_LINK_SESSIONS, {"client": client_id, "person": person_id})
            return
        except IntegrityError:
            # Another practice booked an overlapping session between our check and our write: the next
            # statement sees it and skips that session.
            if attempt == 3:
                raise


async def _decline(db: AsyncSession, invitation: Invitation, actor: Actor | None) -> None:
    invitation.status, invitation.decided_at, invitation.token_hash = "declined", func.now(), None
    if invitation.kind == "admin" and invitation.admin_grant_id is not None:
        await db.execute(
            update(AdminGrant).where(AdminGrant.id == invitation.admin_grant_id, AdminGrant.status == "pending_verification")
            .values(status="rejected", reason="declined by the person")
        )
    await db.flush()
    await audit.record(db, actor, "invitation.declined", target_type="invitation", target_id=invitation.id,
                       group_id=invitation.group_id, kind=invitation.kind)
    await db.refresh(invitation)


