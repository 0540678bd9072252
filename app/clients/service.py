"""Clients and rosters (C1-C4, C7, G7): adding, finding, editing, archiving and moving clients.

Every read of client data is audited (R2) with ids only. Lists load what each response shows
(rosters, insurance, readiness) in two statements for the whole page, never per client.
"""

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients import readiness
from app.clients.access import visible_client, visible_clients
from app.clients.readiness_loader import facts_for, person_facts
from app.clients.schemas import ClientCreate, ClientUpdate
from app.config import get_settings
from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, Grant, Reach, require
from app.core.errors import Problem, conflict, forbidden, not_found
from app.core.mail import send_mail
from app.core.pagination import PageParams, paginate
from app.models import Client, InsurancePolicy, Membership, RosterEntry, User
from app.onboarding.schemas import InsurancePolicyIn
from app.onboarding.service import save_policy
from app.users.service import (
    create_user,
    find_user_by_email,
    issue_verification_token,
    normalize_email,
)

RosterStatus = Literal["active", "archived", "all"]


@dataclass(frozen=True, slots=True)
class ClientView:
    """A client with what every response shows about it."""

    client: Client
    account_verified: bool
    rosters: list[RosterEntry]
    insurance: InsurancePolicy | None
    facts: readiness.ReadinessFacts


async def enroll(
    db: AsyncSession,
    *,
    group_id: uuid.UUID,
    user: User,
    provider_user_id: uuid.UUID,
    billing_type: str = "private_pay",
    added_by: uuid.UUID | None,
    phone: str | None = None,
) -> tuple[Client, bool]:
    """Put a person on a provider's roster as a client of the group (C2: one record per person and group).

    Returns the client and whether a new roster entry was made (False: already on that roster).
    """
    await db.execute(
        pg_insert(Client)
        .values(
            id=uuid.uuid4(),
            group_id=group_id,
            user_id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            email=user.email,
            phone=phone,
            billing_type=billing_type,
            created_by_user_id=added_by,
        )
        .on_conflict_do_nothing(index_elements=["group_id", "user_id"])
    )
    client = await db.scalar(select(Client).where(Client.group_id == group_id, Client.user_id == user.id))
    assert client is not None
    added = await db.scalar(
        pg_insert(RosterEntry)
        .values(group_id=group_id, client_id=client.id, provider_user_id=provider_user_id, added_by_user_id=added_by)
        .on_conflict_do_nothing(index_elements=["client_id", "provider_user_id"], index_where=RosterEntry.archived_at.is_(None))
        .returning(RosterEntry.id)
    )
    return client, added is not None


async def _provider_for(db: AsyncSession, grant: Grant, provider_id: uuid.UUID | None) -> uuid.UUID:
    """Whose roster: the one named, else the caller; a provider may only name themself."""
    provider_id = provider_id or grant.actor.user_id
    if provider_id is None:
        raise Problem(422, "provider_required", "Name the provider whose roster the client joins (`provider_id`).",
                      errors=[{"field": "body.provider_id", "message": "required for API keys"}])
    if grant.reach is Reach.OWN and provider_id != grant.actor.user_id:
        raise forbidden(Capability.CLIENTS)
    is_provider = await db.scalar(
        select(Membership.id).where(
            Membership.group_id == grant.group_id, Membership.user_id == provider_id,
            Membership.is_provider, Membership.ended_at.is_(None),
        )
    )
    if is_provider is None:
        raise Problem(422, "not_a_provider", "That person is not an active provider of this group.",
                      errors=[{"field": "body.provider_id", "message": "not an active provider of the group"}])
    return provider_id


async def add_client(db: AsyncSession, actor: Actor, group_id: uuid.UUID, body: ClientCreate) -> ClientView:
    """C1-C3. An email that already has an account links that person: never two records for one person."""
    grant = require(actor, Capability.CLIENTS, group_id)
    provider_id = await _provider_for(db, grant, body.provider_id)
    user = await find_user_by_email(db, body.email)
    if user is None:
        user = await create_user(db, email=body.email, first_name=body.first_name, last_name=body.last_name)
    client, added = await enroll(
        db, group_id=group_id, user=user, provider_user_id=provider_id, billing_type=body.billing_type,
        added_by=actor.user_id, phone=body.phone,
    )
    if not added:
        raise conflict("already_on_roster", "This person is already a client on that provider's roster.", client_id=str(client.id))
    client.billing_type = body.billing_type
    client.phone = client.phone or body.phone
    client.telehealth_state = body.telehealth_state or client.telehealth_state
    client.assessments = sorted(set(client.assessments) | set(body.assessments))
    if body.insurance is not None:
        await _keep_insurance(db, actor, user.id, body.insurance)
    await db.flush()
    await audit.record(db, actor, "client.roster_added", target_type="client", target_id=client.id, group_id=group_id,
                       provider_user_id=str(provider_id))
    if body.notify:
        await send_onboarding(db, user, client)
    [view] = await load_views(db, [client])
    return view


async def _keep_insurance(db: AsyncSession, actor: Actor, user_id: uuid.UUID, policy: InsurancePolicyIn) -> None:
    """Insurance given by the practice is kept only when the person has none: theirs is theirs (C1)."""
    if await db.scalar(select(InsurancePolicy.user_id).where(InsurancePolicy.user_id == user_id)) is None:
        await save_policy(db, user_id, policy)
        await audit.record(db, actor, "insurance.entered_by_practice", target_type="insurance_policy", target_id=user_id)


async def send_onboarding(db: AsyncSession, user: User, client: Client) -> None:
    """C3: verify the account, add insurance (insurance billing), add a form of billing, sign the forms."""
    settings = get_settings()
    steps = ["add a form of billing", "acknowledge the billing and privacy policies"]
    if client.billing_type == "insurance":
        steps.insert(0, "add your insurance")
    if user.email_verified_at is None:
        secret = issue_verification_token(db, user)
        action = "accept-invitation" if user.password_hash is None else "verify-email"
        steps.insert(0, f"verify your account: {settings.public_url}/{action}?token={secret}")
    body = "\n".join(f"  {n}. {step}" for n, step in enumerate(steps, 1))
    await send_mail(
        db,
        to=user.email,
        subject="Get ready for your first session",
        body=f"Hello {user.first_name},\n\nYour provider added you on Caseload. Before your first session, please:\n\n{body}\n\n"
        f"Log in at {settings.public_url}/login to do it.\n",
        template="client_onboarding",
    )


async def send_welcome(db: AsyncSession, actor: Actor, group_id: uuid.UUID, client_id: uuid.UUID) -> None:
    """I10: a welcome email for a client new to the platform (not verified yet)."""
    client, _ = await visible_client(db, actor, group_id, client_id)
    user = await db.get(User, client.user_id)
    assert user is not None
    if user.email_verified_at is not None:
        raise conflict("already_on_platform", "This client has already set up their account; no welcome email is needed.")
    await send_onboarding(db, user, client)
    await audit.record(db, actor, "client.welcome_sent", target_type="client", target_id=client.id, group_id=group_id)


def _search(q: str) -> ColumnElement[bool]:
    """Name or email prefix; "ann sm" matches first and last name in either order."""
    escaped = [token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for token in q.lower().split()]
    if len(escaped) >= 2:
        first, last = escaped[0], escaped[-1]
        return or_(
            and_(Client.first_name_key.like(first), Client.last_name_key.like(last)),
            and_(Client.last_name_key.like(first), Client.first_name_key.like(last)),
        )
    token = escaped[0]
    return or_(Client.last_name_key.like(token), Client.first_name_key.like(token), Client.email_key.like(token))


def _roster_status(status: RosterStatus, provider_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    entries = select(RosterEntry.id).where(RosterEntry.client_id == Client.id)
    if provider_id is not None:
        entries = entries.where(RosterEntry.provider_user_id == provider_id)
    active = exists(entries.where(RosterEntry.archived_at.is_(None)))
    if status == "active":
        return [active]
    if status == "archived":
        return [exists(entries), ~active]
    return [exists(entries)] if provider_id is not None else []


async def list_clients(
    db: AsyncSession,
    actor: Actor,
    group_id: uuid.UUID,
    page: PageParams,
    *,
    provider_id: uuid.UUID | None,
    status: RosterStatus,
    q: str | None,
) -> tuple[list[ClientView], str | None]:
    """C7: a provider's own roster, or (admins) any roster or the whole group, ordered by name."""
    grant = require(actor, Capability.CLIENTS, group_id)
    if grant.reach is Reach.OWN and provider_id not in (None, actor.user_id):
        raise not_found("roster")  # R1: another provider's roster is not there for you
    stmt = select(Client).where(*visible_clients(grant), *_roster_status(status, provider_id))
    if q and q.strip():
        stmt = stmt.where(_search(q))
    clients, next_cursor = await paginate(
        db, stmt, page, keys=(Client.last_name_key, Client.first_name_key, Client.id)
    )
    views = await load_views(db, clients)
    await audit.record(db, actor, "client.list_read", target_type="client", group_id=group_id,
                       client_ids=[str(c.id) for c in clients])
    return views, next_cursor


async def read_client(db: AsyncSession, actor: Actor, group_id: uuid.UUID, client_id: uuid.UUID) -> ClientView:
    client, _ = await visible_client(db, actor, group_id, client_id)
    await audit.record(db, actor, "client.read", target_type="client", target_id=client.id, group_id=group_id)
    [view] = await load_views(db, [client])
    return view


async def update_client(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, client_id: uuid.UUID, body: ClientUpdate
) -> ClientView:
    client, _ = await visible_client(db, actor, group_id, client_id, for_update=True)
    changes = body.model_dump(exclude_unset=True)
    identity = {"first_name", "last_name", "email", "phone"} & changes.keys()
    user = await db.get(User, client.user_id, with_for_update=True)
    assert user is not None
    if identity and user.email_verified_at is not None:
        raise conflict(
            "client_controls_identity",
            "This client has verified their account: only they can change their name, email and phone.",
            fields=sorted(identity),
        )
    if "email" in changes:
        email = normalize_email(changes["email"])
        other = await find_user_by_email(db, email)
        if other is not None and other.id != user.id:
            raise conflict("email_taken", "Another account uses this email. If it is the same person, add them by that email instead.")
        user.email = email
    for name in ("first_name", "last_name"):
        if name in changes:
            setattr(user, name, changes[name])
    if {"first_name", "last_name", "email"} & changes.keys():
        # The copies on every client record of this person follow the account (C2: one person).
        await db.execute(
            update(Client).where(Client.user_id == user.id)
            .values(first_name=user.first_name, last_name=user.last_name, email=user.email)
        )
    for name in ("phone", "billing_type", "telehealth_state", "assessments"):
        if name in changes:
            setattr(client, name, changes[name])
    await db.flush()
    await db.refresh(client)
    await audit.record(db, actor, "client.updated", target_type="client", target_id=client.id, group_id=group_id,
                       fields=sorted(changes))
    [view] = await load_views(db, [client])
    return view


async def _active_entry(db: AsyncSession, client: Client, provider_id: uuid.UUID | None) -> RosterEntry:
    stmt = select(RosterEntry).where(RosterEntry.client_id == client.id, RosterEntry.archived_at.is_(None)).with_for_update()
    if provider_id is not None:
        stmt = stmt.where(RosterEntry.provider_user_id == provider_id)
    entries = list((await db.scalars(stmt)).all())
    if not entries:
        raise not_found("active roster entry")
    if len(entries) > 1:
        raise Problem(422, "provider_required", "The client is on several rosters: name the provider (`provider_id`).",
                      errors=[{"field": "body.provider_id", "message": "required: the client is on several rosters"}],
                      providers=[str(e.provider_user_id) for e in entries])
    return entries[0]


async def archive_client(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, client_id: uuid.UUID, *, provider_id: uuid.UUID | None
) -> ClientView:
    """Archive from a roster; reversible by adding the client again. History and documents stay."""
    client, grant = await visible_client(db, actor, group_id, client_id)
    if grant.reach is Reach.OWN:
        if provider_id not in (None, actor.user_id):
            raise forbidden(Capability.CLIENTS)
        provider_id = actor.user_id
    entry = await _active_entry(db, client, provider_id)
    entry.archived_at, entry.archived_by_user_id = func.now(), actor.user_id
    await db.flush()
    await audit.record(db, actor, "client.archived", target_type="client", target_id=client.id, group_id=group_id,
                       provider_user_id=str(entry.provider_user_id))
    [view] = await load_views(db, [client])
    return view


async def transfer_client(
    db: AsyncSession, actor: Actor, group_id: uuid.UUID, client_id: uuid.UUID, *,
    from_provider_id: uuid.UUID, to_provider_id: uuid.UUID,
) -> ClientView:
    """G7: archive from one provider's roster and add to another's, in one transaction: the same person."""
    client, grant = await visible_client(db, actor, group_id, client_id)
    if grant.reach is Reach.OWN and from_provider_id != actor.user_id:
        raise forbidden(Capability.CLIENTS)
    if from_provider_id == to_provider_id:
        raise Problem(422, "same_provider", "Transfer to a different provider.",
                      errors=[{"field": "body.to_provider_id", "message": "must differ from from_provider_id"}])
    entry = await _active_entry(db, client, from_provider_id)
    # The receiving provider is checked as if the caller added the client there (any provider of the group).
    group_grant = Grant(group_id=group_id, reach=Reach.GROUP, role=grant.role, actor=actor)
    await _provider_for(db, group_grant, to_provider_id)
    entry.archived_at, entry.archived_by_user_id = func.now(), actor.user_id
    await db.flush()
    user = await db.get(User, client.user_id)
    assert user is not None
    _, added = await enroll(db, group_id=group_id, user=user, provider_user_id=to_provider_id, added_by=actor.user_id)
    if not added:
        raise conflict("already_on_roster", "The client is already on the receiving provider's roster.")
    await audit.record(db, actor, "client.transferred", target_type="client", target_id=client.id, group_id=group_id,
                       from_provider_user_id=str(from_provider_id), to_provider_user_id=str(to_provider_id))
    [view] = await load_views(db, [client])
    return view


async def load_views(db: AsyncSession, clients: list[Client]) -> list[ClientView]:
    """What responses show for these clients, in three statements whatever their number."""
    if not clients:
        return []
    entries: dict[uuid.UUID, list[RosterEntry]] = {c.id: [] for c in clients}
    for entry in await db.scalars(
        select(RosterEntry).where(RosterEntry.client_id.in_(list(entries))).order_by(RosterEntry.added_at)
    ):
        entries[entry.client_id].append(entry)
    user_ids = {c.user_id for c in clients}
    policies = {p.user_id: p for p in await db.scalars(select(InsurancePolicy).where(InsurancePolicy.user_id.in_(user_ids)))}
    people = await person_facts(db, user_ids)
    return [
        ClientView(
            client=c,
            account_verified=people[c.user_id].account_verified,
            rosters=entries[c.id],
            insurance=policies.get(c.user_id),
            facts=facts_for(c.billing_type, people[c.user_id]),
        )
        for c in clients
    ]
