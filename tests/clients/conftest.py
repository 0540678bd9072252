"""The clients tests' cast: a group with two providers and an admin who does not provide."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.memberships.service import make_provider
from app.models import Group, User
from tests.fixtures.factories import add_member, make_group, make_user


@pytest.fixture
async def group(db: AsyncSession) -> Group:
    return await make_group(db, name="Willow Counseling")


@pytest.fixture
async def provider(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Pia", last_name="Provider")
    await make_provider(db, group, user, "LCSW")
    return user


@pytest.fixture
async def colleague(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Cole", last_name="Colleague")
    await make_provider(db, group, user, "LPC")
    return user


@pytest.fixture
async def admin(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Ari", last_name="Admin")
    await add_member(db, group, user, admin=True)
    return user
