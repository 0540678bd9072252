"""Providers for these tests, with the profile row the owner's "add provider" (G5) would have made."""

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group, ProviderProfile, User
from tests.fixtures.factories import add_member, make_user


async def make_profile(db: AsyncSession, group: Group, user: User, *, license_type: str = "LCSW") -> ProviderProfile:
    profile = ProviderProfile(
        group_id=group.id,
        user_id=user.id,
        license_type=license_type,
        display_name=f"{user.first_name} {user.last_name}",
        booking_slug=f"provider-{uuid.uuid4().hex[:12]}",
    )
    db.add(profile)
    await db.flush()
    return profile


async def make_provider(
    db: AsyncSession, group: Group, *, user: User | None = None, admin: bool = False, license_type: str = "LCSW"
) -> User:
    """A member who provides (and administers, with `admin`), with their provider profile."""
    user = user or await make_user(db, first_name="Pat", last_name="Provider")
    await add_member(db, group, user, provider=True, admin=admin)
    await make_profile(db, group, user, license_type=license_type)
    return user
