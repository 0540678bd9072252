"""Clients and rosters (C1-C4, C7, G7): adding, finding, editing, archiving and moving clients.

Every read of client data is audited (R2) with ids only. The roster list reads a page with everything each
response shows (rosters, insurance, readiness) in one statement (roster_sql.py); single clients load theirs
in three statements (load_views), never per client.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

import asyncpg
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients import readiness, roster_sql
from app.clients.access import visible_client
from app.clients.readiness import CURRENT_FORM_VERSIONS
from app.clients.readiness_loader import client_facts, shown_insurance
from app.clients.roster_sql import RosterStatus
from app.clients.schemas import ClientCreate, ClientUpdate
from app.config import get_settings
from app.core import audit
from app.core.auth import Actor
from app.core.authz import Capability, Grant, Reach, require
from app.core.errors import Problem, conflict, forbidden, not_found
from app.core.mail import send_mail
from app.core.middleware import current_request
from app.core.pagination import PageParams, decode_cursor, encode_cursor
from app.core.pagination import invalid_cursor
from app.invitations import service as invitations
from app.webhooks.events import emit
from app.models import Client, Group, InsurancePolicy, Invitation, Membership, PracticeInsurance, RosterEntry, User
from app.onboarding.schemas import InsurancePolicyIn
from app.onboarding.service import save_practice_policy
from app.users.service import (
    create_user,
    find_user_by_email,
    issue_verification_token,
    normalize_email,
)


@dataclass(frozen=True, slots=True)
class ClientView:
    """A client with what every response shows about it."""

    client: Client
    account_verified: bool
    rosters: list[RosterEntry]
    insurance: InsurancePolicy | PracticeInsurance | None
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
    consented: bool = True,
) -> tuple[Client, bool]:
    """Put a person on a provider's roster as a client of the group (C2: one record per person and group).

    For callers where the person themselves asked (a booking-link sign-up) or the group's own record is moved
    (G7): a new record is consented unless `consented=False`. A practice typing an email goes through
    add_client(), which invites the person instead (A10). Returns the client and whether a new roster entry was
    made (False: already on that roster).
    """
    inserted = await db.scalar(
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
            consented_at=func.now() if consented else None,
        )
        .on_conflict_do_nothing(index_elements=["group_id", "user_id"])
        .returning(Client.id)
    )
    client = await db.scalar(select(Client).where(Client.group_id == group_id, Client.user_id == user.id))
    assert client is not None
    if inserted is not None:
        await emit(db, group_id, "client.created", client.id, provider_id=provider_user_id)
    added = await db.scalar(
        pg_insert(RosterEntry)
        .values(group_id=group_id, client_id=client.id, provider_user_id=provider_user_id, added_by_user_id=added_by)
        .on_conflict_do_nothing(index_elements=["client_id", "provider_user_id"], index_where=RosterEntry.archived_at.is_(None))
        .returning(RosterEntry.id)
    )
    return client, added is not None


async def provider_for(db: AsyncSession, grant: Grant, provider_id: uuid.UUID | None) -> uuid.UUID:
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
    """C1-C3, A10, C8. The group's own record of the person is recognised (C2, G7: no second record, no new
    invitation). Otherwise a record in the practice's own words is made and the person invited: the answer
    shows what was typed, the same whether or not the email has an account, until the person accepts."""
    grant = require(actor, Capability.CLIENTS, group_id)
    provider_id = await provider_for(db, grant, body.provider_id)
    user = await find_user_by_email(db, body.email)
    created = user is None
    if user is None:
        user = await create_user(db, email=body.email, first_name=body.first_name, last_name=body.last_name)
    client = await db.scalar(select(Client).where(Client.group_id == group_id, Client.user_id == user.id).with_for_update())
    invited = client is None
    if client is None:
        client = Client(
            id=uuid.uuid4(), group_id=group_id, user_id=user.id, first_name=body.first_name.strip(),
            last_name=body.last_name.strip(), email=normalize_email(body.email), phone=body.phone,
            billing_type=body.billing_type, telehealth_state=body.telehealth_state,
            assessments=sorted(set(body.assessments)), created_by_user_id=actor.user_id,
        )
        db.add(client)
        await db.flush()
    added = await db.scalar(
        pg_insert(RosterEntry)
        .values(group_id=group_id, client_id=client.id, provider_user_id=provider_id, added_by_user_id=actor.user_id)
        .on_conflict_do_nothing(index_elements=["client_id", "provider_user_id"], index_where=RosterEntry.archived_at.is_(None))
        .returning(RosterEntry.id)
    )
    if added is None:
        raise conflict("already_on_roster", "This person is already a client on that provider's roster.", client_id=str(client.id))
    if not invited:
        client.billing_type = body.billing_type
        client.phone = client.phone or body.phone
        client.telehealth_state = body.telehealth_state or client.telehealth_state
        client.assessments = sorted(set(client.assessments) | set(body.assessments))
    if body.insurance is not None:
        await _keep_insurance(db, actor, client, body.insurance)
    await db.flush()
    await audit.record(db, actor, "client.roster_added", target_type="client", target_id=client.id, group_id=group_id,
                       provider_user_id=str(provider_id))
    if invited:
        group = await db.get(Group, group_id)
        assert group is not None
        # A new account's invitation is the onboarding mail (when asked for) or the welcome email later.
        await invitations.invite(db, group=group, user=user, kind="client", invited_by=actor.user_id,
                                 with_account=created, client_id=client.id)
        await emit(db, group_id, "client.created", client.id, provider_id=provider_id)
    if body.notify and (created or client.consented_at is not None):
        await send_onboarding(db, user, client)
    [view] = await load_views(db, [client])
    return view


async def _keep_insurance(db: AsyncSession, actor: Actor, client: Client, policy: InsurancePolicyIn) -> None:
    """Insurance typed by the practice is its own copy for this client, kept when it has none yet (C1, C8): the
    person's own policy is theirs, and another practice never sees this one."""
    if await db.scalar(select(PracticeInsurance.client_id).where(PracticeInsurance.client_id == client.id)) is None:
        await save_practice_policy(db, client.id, policy)
        await audit.record(db, actor, "insurance.entered_by_practice", target_type="client", target_id=client.id,
                           group_id=client.group_id)


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
    """I10, A10: a welcome email for a client who has not set up their account, or the invitation again for one
    who has not answered it. Nothing here answers differently for an email that had an account."""
    client, _ = await visible_client(db, actor, group_id, client_id)
    user = await db.get(User, client.user_id)
    assert user is not None
    invitation = await db.scalar(
        select(Invitation).where(Invitation.client_id == client.id, Invitation.kind == "client")
        .order_by(Invitation.created_at.desc(), Invitation.id.desc()).limit(1).with_for_update()
    )
    if client.consented_at is None and invitation is not None and invitation.status == "declined":
        raise conflict("invitation_declined", "This person declined the invitation. Ask them directly if it was a mistake.")
    if client.consented_at is not None and user.email_verified_at is not None:
        raise conflict("already_on_platform", "This client has already set up their account; no welcome email is needed.")
    if client.consented_at is None and invitation is not None and not invitation.with_account:
        group = await db.get(Group, group_id)
        assert group is not None
        await invitations.mail_invitation(db, invitation, group, user)
    else:
        await send_onboarding(db, user, client)
    await audit.record(db, actor, "client.welcome_sent", target_type="client", target_id=client.id, group_id=group_id)


class RowReader(Protocol):
    """An asyncpg pool or connection: what the roster list reads through."""

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...


async def list_clients(
    reader: RowReader,
    actor: Actor,
    group_id: uuid.UUID,
    page: PageParams,
    *,
    provider_id: uuid.UUID | None,
    status: RosterStatus,
    q: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """C7: a provider's own roster, or (admins) any roster or the whole group, ordered by name.

    The clients as the API shows them (`ClientOut`, plain data), from ONE statement that reads the page with
    everything shown and writes the read's audit row (R2): app.clients.roster_sql. It runs on the asyncpg pool
    of the authentication lookup (app.core.db.get_reader), not through a SQLAlchemy session: a session's
    checkout costs three round trips (pool pre-ping: BEGIN, ping, ROLLBACK) and the audit insert three more
    (BEGIN, INSERT, COMMIT), and through the ORM, 50 clients cost 15x the SQL (scripts/bench/bench_clients.py).
    """
    grant = require(actor, Capability.CLIENTS, group_id)
    if grant.reach is Reach.OWN and provider_id not in (None, actor.user_id):
        raise not_found("roster")  # R1: another provider's roster is not there for you
    words = roster_sql.search_tokens(q)
    request = current_request.get()
    today = datetime.now(UTC)
    values: dict[str, Any] = {
        "group_id": group_id, "own_id": actor.user_id, "provider_id": provider_id,
        "year": today.year, "month": today.month,
        # Read now: a new version of a form un-readies at once (as readiness_loader.person_facts).
        "documents": list(CURRENT_FORM_VERSIONS), "versions": list(CURRENT_FORM_VERSIONS.values()),
        # The audit row, as app.core.audit.record fills it.
        "actor_user_id": actor.user_id, "actor_api_key_id": actor.id if actor.kind == "api_key" else None,
        "actor_ip": request.ip if request else None, "request_id": request.request_id if request else None,
    }
    for n, word in enumerate(words, 1):
        values[f"low{n}"], values[f"high{n}"] = roster_sql.prefix_range(word)
    if page.cursor:
        values["after_last"], values["after_first"], values["after_id"] = _after(page.cursor)
    sql, names = roster_sql.page_statement(
        # A provider naming their own roster needs one roster test, not two: with both, the planner walked the
        # group's name index testing each client twice (22 ms instead of 2 for a page of a 100,000-client group).
        own=grant.reach is Reach.OWN and provider_id is None, provider=provider_id is not None, status=status, words=len(words),
        after=page.cursor is not None, size=page.limit,
    )
    rows = await reader.fetch(sql, *[values[name] for name in names])
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last = rows[-1]
        next_cursor = encode_cursor([last["last_name_key"], last["first_name_key"], str(last["id"])])
    return [client_document(row) for row in rows], next_cursor


def _after(cursor: str) -> tuple[str, str, uuid.UUID]:
    """The keyset cursor of the roster order (as paginate() encodes it): last name key, first name key, id."""
    last, first, client_id = decode_cursor(cursor, 3)
    if not isinstance(last, str) or not isinstance(first, str) or not isinstance(client_id, str):
        raise invalid_cursor()
    try:
        return last, first, uuid.UUID(client_id)
    except ValueError:
        raise invalid_cursor() from None


def client_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """`ClientOut` as plain data from a row of roster_sql.page_statement (the route serialises it directly).

    Must answer what router.client_out() answers for the same client: tests/clients/test_roster_list.py
    compares the two.
    """
    policy_status = row["insurance_status"]
    providers = row["providers"] or ()
    return {
        "id": row["id"],
        "group_id": row["group_id"],
        "user_id": row["user_id"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "email": row["email"],
        "phone": row["phone"],
        "billing_type": row["billing_type"],
        "telehealth_state": row["telehealth_state"],
        "assessments": row["assessments"],
        "account_verified": row["account_verified"],
        "consent": "accepted" if row["consented"] else "pending",
        "created_at": row["created_at"],
        "rosters": [
            {"provider_user_id": p, "added_at": added, "archived_at": archived}
            for p, added, archived in zip(providers, row["added"], row["archived"], strict=True)
        ],
        "insurance": (
            {"status": policy_status, "company": row["insurance_company"], "member_id": f"••••{row['member_id_last4']}"}
            if policy_status is not None
            else {"status": "none", "company": None, "member_id": None}
        ),
        "readiness": _readiness_document(
            row["billing_type"], row["account_verified"], policy_status is not None and policy_status != "failed",
            row["has_billing_method"], frozenset(row["acknowledged"] or ()), tuple(CURRENT_FORM_VERSIONS.items()),
        ),
    }


@lru_cache(maxsize=512)
def _readiness_document(
    billing_type: str, verified: bool, has_insurance: bool, has_billing_method: bool,
    documents: frozenset[str], current: tuple[tuple[str, str], ...],
) -> dict[str, Any]:
    """`ReadinessOut` as plain data (shared by every client in the same state: read-only). `documents`: those
    acknowledged in their current version, `current` (CURRENT_FORM_VERSIONS) is part of the key."""
    versions = dict(current)
    facts = readiness.ReadinessFacts(
        account_verified=verified, billing_type=billing_type, has_insurance=has_insurance,
        has_billing_method=has_billing_method, acknowledged=frozenset((d, versions[d]) for d in documents),
    )
    items = [{"item": i.item, "done": i.done} for i in readiness.checklist(facts)]
    return {"ready": all(i["done"] for i in items), "items": items, "missing": [i["item"] for i in items if not i["done"]]}


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
    if client.consented_at is None:
        # C8: before the person accepted, the record is the practice's own words: edits stay on it.
        await _edit_pending(db, actor, client, changes)
    else:
        await _edit_consented(db, client, changes)
    await db.flush()
    await db.refresh(client)
    await audit.record(db, actor, "client.updated", target_type="client", target_id=client.id, group_id=group_id,
                       fields=sorted(changes))
    await emit(db, group_id, "client.updated", client.id, changes)
    [view] = await load_views(db, [client])
    return view


async def _edit_consented(db: AsyncSession, client: Client, changes: dict[str, Any]) -> None:
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
        # The records of practices the person accepted follow the account (C2: one person); the others keep
        # their own words (C8).
        await db.execute(
            update(Client).where(Client.user_id == user.id, Client.consented_at.is_not(None))
            .values(first_name=user.first_name, last_name=user.last_name, email=user.email)
        )
    for name in ("phone", "billing_type", "telehealth_state", "assessments"):
        if name in changes:
            setattr(client, name, changes[name])


async def _edit_pending(db: AsyncSession, actor: Actor, client: Client, changes: dict[str, Any]) -> None:
    """A record waiting for its person: the practice fixes its own words. A new email means another person:
    the invitation is withdrawn and that email invited instead (answered the same whether it has an account)."""
    if "email" in changes and normalize_email(changes["email"]) != normalize_email(client.email):
        user = await find_user_by_email(db, changes["email"])
        created = user is None
        if user is None:
            user = await create_user(db, email=changes["email"], first_name=changes.get("first_name", client.first_name),
                                     last_name=changes.get("last_name", client.last_name))
        elif await db.scalar(select(Client.id).where(Client.group_id == client.group_id, Client.user_id == user.id)) is not None:
            raise conflict("client_exists", "This practice already has a client with this email: use that record.")
        await db.execute(
            update(Invitation).where(Invitation.client_id == client.id, Invitation.status == "pending")
            .values(status="withdrawn", decided_at=func.now(), token_hash=None)
        )
        client.user_id = user.id
        client.email = normalize_email(changes["email"])
        await db.flush()
        group = await db.get(Group, client.group_id)
        assert group is not None
        await invitations.invite(db, group=group, user=user, kind="client", invited_by=actor.user_id,
                                 with_account=created, client_id=client.id)
    for name in ("first_name", "last_name", "phone", "billing_type", "telehealth_state", "assessments"):
        if name in changes:
            setattr(client, name, changes[name])


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
    # The statement's clock, not the transaction's start: C10 compares it with what others create meanwhile.
    entry.archived_at, entry.archived_by_user_id = func.clock_timestamp(), actor.user_id
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
    await provider_for(db, group_grant, to_provider_id)
    # The statement's clock, not the transaction's start: C10 compares it with what others create meanwhile.
    entry.archived_at, entry.archived_by_user_id = func.clock_timestamp(), actor.user_id
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
    """What responses show for these clients, as their practice may see them (C8), in at most four statements
    whatever their number."""
    if not clients:
        return []
    entries: dict[uuid.UUID, list[RosterEntry]] = {c.id: [] for c in clients}
    for entry in await db.scalars(
        select(RosterEntry).where(RosterEntry.client_id.in_(list(entries))).order_by(RosterEntry.added_at, RosterEntry.id)
    ):
        entries[entry.client_id].append(entry)
    insurance = await shown_insurance(db, clients)
    facts = await client_facts(db, clients, insurance=insurance)
    return [
        ClientView(
            client=c,
            account_verified=facts[c.id].account_verified,
            rosters=entries[c.id],
            insurance=insurance[c.id],
            facts=facts[c.id],
        )
        for c in clients
    ]
