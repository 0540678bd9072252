"""The cast of the practice-settings tests: one group with each kind of member, and outsiders."""

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, Group, User
from tests.fixtures.factories import make_group, make_user
from tests.providers.factories import make_provider


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    return await make_group(db, owner=owner, time_zone="America/Los_Angeles")


@pytest.fixture
async def provider(db: AsyncSession, group: Group) -> User:
    """A provider without admin rights: the provider column only."""
    return await make_provider(db, group)


@pytest.fixture
async def stranger(db: AsyncSession) -> User:
    """The owner of another group: every capability there, none here."""
    user = await make_user(db, first_name="Sam", last_name="Stranger")
    await make_group(db, owner=user, name="Other Practice")
    return user


@pytest.fixture
async def staff(db: AsyncSession) -> User:
    return await make_user(db, first_name="Stef", last_name="Staff", is_staff=True)


async def audit_events(db: AsyncSession, group: Group, action: str) -> list[AuditEvent]:
    rows = await db.scalars(
        select(AuditEvent).where(AuditEvent.group_id == group.id, AuditEvent.action == action).order_by(AuditEvent.id)
    )
    return list(rows)
