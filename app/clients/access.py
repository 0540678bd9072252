"""Which clients a caller may see (R1): the group's, and for a provider only those on their roster.

Every feature that reads a client (documents, messages, estimates, imports) loads it through here,
so "another group's client" and "another provider's client" are both simply not found (404).
"""

import uuid

from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.auth import Actor
from app.core.authz import Capability, Grant, Reach, require
from app.core.errors import not_found
from app.models import Client, RosterEntry


def on_roster_of(provider_user_id: uuid.UUID | None, *, active_only: bool = False) -> ColumnElement[bool]:
    """Clients on this provider's roster (archived entries included unless `active_only`)."""
    entry = select(RosterEntry.id).where(RosterEntry.client_id == Client.id, RosterEntry.provider_user_id == provider_user_id)
    if active_only:
        entry = entry.where(RosterEntry.archived_at.is_(None))
    return exists(entry)


def provider_reads(
    provider_user_id: uuid.UUID | None, client_id: ColumnElement[uuid.UUID] | uuid.UUID, created_at: ColumnElement[datetime]
) -> ColumnElement[bool]:
    """C10, the one rule for a provider's reach into a client's record: what was created while the client
    was theirs. An active roster entry reaches everything; an archived one (archive, transfer, removal) what
    existed up to its archiving, nothing created after. Documents, sessions and messages all read through it.
    """
    return exists(
        select(RosterEntry.id).where(
            RosterEntry.client_id == client_id,
            RosterEntry.provider_user_id == provider_user_id,
            or_(RosterEntry.archived_at.is_(None), RosterEntry.archived_at >= created_at),
        )
    )


def visible_clients(grant: Grant) -> list[ColumnElement[bool]]:
    """WHERE clauses for the clients a grant reaches: the group's, narrowed to own roster for OWN."""
    clauses: list[ColumnElement[bool]] = [Client.group_id == grant.group_id]
    if grant.reach is Reach.OWN:
        clauses.append(on_roster_of(grant.actor.user_id))
    return clauses


async def visible_client(
    db: AsyncSession,
    actor: Actor,
    group_id: uuid.UUID,
    client_id: uuid.UUID,
    capability: Capability = Capability.CLIENTS,
    *,
    for_update: bool = False,
) -> tuple[Client, Grant]:
    grant = require(actor, capability, group_id)
    stmt = select(Client).where(Client.id == client_id, *visible_clients(grant))
    if for_update:
        stmt = stmt.with_for_update()
    client = await db.scalar(stmt)
    if client is None:
        raise not_found("client")
    return client, grant
