"""The cast of the onboarding tests: a group with a provider, and a person who becomes its client."""

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.memberships.service import make_provider
from app.models import AuditEvent, Client, Group, User
from tests.fixtures.factories import make_group, make_user


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    return await make_group(db, owner=owner, name="Cedar Therapy")


@pytest.fixture
async def provider(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Pat", last_name="Provider")
    await make_provider(db, group, user, "LCSW")
    return user


@pytest.fixture
async def person(db: AsyncSession) -> User:
    """Someone a provider added as a client: not verified yet, nothing on file."""
    return await make_user(db, first_name="Casey", last_name="Client", verified=False, password_hash="$argon2id$stub")


@pytest.fixture
async def insurance_client(db: AsyncSession, group: Group, provider: User, person: User) -> Client:
    client, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, billing_type="insurance", added_by=provider.id)
    return client


async def audit_events(db: AsyncSession, user: User, action: str) -> list[AuditEvent]:
    rows = await db.scalars(
        select(AuditEvent).where(AuditEvent.actor_user_id == user.id, AuditEvent.action == action).order_by(AuditEvent.id)
    )
    return list(rows)
