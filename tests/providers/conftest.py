"""The cast of the provider-settings tests (the provider column of the capability table)."""

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, Group, User
from tests.fixtures.factories import make_group, make_user
from tests.providers.factories import make_profile, make_provider


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    group = await make_group(db, owner=owner)
    await make_profile(db, group, owner)  # the owner provides too (make_group makes them a provider)
    return group


@pytest.fixture
async def provider(db: AsyncSession, group: Group) -> User:
    return await make_provider(db, group)


@pytest.fixture
async def colleague(db: AsyncSession, group: Group) -> User:
    """Another provider of the same group, without admin rights."""
    return await make_provider(db, group)


@pytest.fixture
async def stranger(db: AsyncSession) -> User:
    """An admin and provider of another group."""
    user = await make_user(db, first_name="Sam", last_name="Stranger")
    other = await make_group(db, owner=user, name="Other Practice")
    await make_profile(db, other, user)
    return user


async def audit_events(db: AsyncSession, group: Group, action: str) -> list[AuditEvent]:
    rows = await db.scalars(
        select(AuditEvent).where(AuditEvent.group_id == group.id, AuditEvent.action == action).order_by(AuditEvent.id)
    )
    return list(rows)
