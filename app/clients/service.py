"""Clients and rosters (C1-C3, C7, G7)."""

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, RosterEntry, User


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
