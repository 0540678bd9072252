"""The clients tests' group; its provider, colleague and admin come from tests/fixtures/cast.py."""

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group
from tests.fixtures.factories import make_group


@pytest.fixture
async def group(db: AsyncSession) -> Group:
    return await make_group(db, name="Willow Counseling")
