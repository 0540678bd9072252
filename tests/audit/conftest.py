import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group, User
from tests.fixtures.factories import make_group, make_user


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    return await make_group(db, owner=owner, name="Audit Practice")


async def add_event(db: AsyncSession, group_id: uuid.UUID | None, action: str = "client.read", *, actor: uuid.UUID | None = None,
                    target_type: str = "client", target_id: Any = None, details: str = "{}", at: str | None = None) -> int:
    """An event as the services write them (the insert trigger chains it); `at` defaults to the transaction's time."""
    return (await db.execute(text(
        "INSERT INTO audit_events (actor_user_id, action, target_type, target_id, group_id, details, at) "
        "VALUES (:actor, :action, :tt, :tid, :g, CAST(:details AS jsonb), coalesce(CAST(CAST(:at AS text) AS timestamptz), now())) RETURNING id"
    ), {"actor": actor, "action": action, "tt": target_type, "tid": str(target_id) if target_id else None, "g": group_id,
        "details": details, "at": at})).scalar_one()
