"""Demo data for `caseload dev`, seeded when the database has no users.

Each feature adds its part here: the demo group, its clients and sessions.
"""

from sqlalchemy import func, select

from app.users.service import create_user
from app.core.db import Database
from app.config import get_settings
from app.models import Group, Membership, User

DEMO_PASSWORD = "demo-password-2026"
DEMO_OWNER = "owner@demo.caseload.example"


async def seed_if_empty(database_url: str) -> str | None:
    """Seed the demo group; returns how to log in, or None when the database already had data."""
    database = Database(database_url, get_settings())
    try:
        async with database.sessionmaker() as db:
            if await db.scalar(select(func.count()).select_from(User)):
                return None
            owner = await create_user(
                db, email=DEMO_OWNER, password=DEMO_PASSWORD, first_name="Dana", last_name="Demo", verified=True
            )
            group = Group(name="Demo Group Practice", time_zone="America/New_York")
            db.add(group)
            await db.flush()
            db.add(Membership(group_id=group.id, user_id=owner.id, is_owner=True, is_admin=True, is_provider=True))
            await db.commit()
            return f"{DEMO_OWNER} / {DEMO_PASSWORD}"
    finally:
        await database.close()
