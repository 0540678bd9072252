"""Two practices for the privacy tests: practice A (Alder) and practice B (Birch), each an owner who provides."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.memberships.service import make_provider
from app.models import Group, Rate, User
from tests.fixtures.factories import make_group, make_user


@pytest.fixture
async def owner_a(db: AsyncSession) -> User:
    return await make_user(db, first_name="Ava", last_name="Alder")


@pytest.fixture
async def group(db: AsyncSession, owner_a: User) -> Group:
    """Practice A."""
    group = await make_group(db, owner=owner_a, name="Alder Counseling")
    await make_provider(db, group, owner_a, "LCSW")
    db.add(Rate(group_id=group.id, service_code="90837", private_pay_cents=15000, insurance_cents=12000))
    return group


@pytest.fixture
async def owner_b(db: AsyncSession) -> User:
    return await make_user(db, first_name="Bo", last_name="Birch")


@pytest.fixture
async def group_b(db: AsyncSession, owner_b: User) -> Group:
    """Practice B: a second practice of the test world."""
    group = await make_group(db, owner=owner_b, name="Birch Therapy")
    await make_provider(db, group, owner_b, "LPC")
    db.add(Rate(group_id=group.id, service_code="90837", private_pay_cents=16000, insurance_cents=13000))
    await db.flush()
    return group
