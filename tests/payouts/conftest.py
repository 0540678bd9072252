"""The payout tests' cast: a group (owner who also provides, a provider, a colleague, an admin), a client,
and committed data for the settlement tests (which need real transactions, several connections at once)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from arq import ArqRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clients.service import enroll
from app.core.db import Base
from app.memberships.service import make_provider
from app.models import Client, Group, User
from app.payouts.bank import SimulatedBank
from tests.fixtures.factories import add_member, make_group, make_user


@dataclass
class Cast:
    group: Group
    owner: User
    provider: User
    colleague: User
    admin: User
    client: Client
    other_client: Client


async def build_cast(db: AsyncSession, *, time_zone: str = "America/New_York") -> Cast:
    owner = await make_user(db, first_name="Olive", last_name="Owner")
    group = await make_group(db, owner=owner, name="Payout Practice", time_zone=time_zone)
    await make_provider(db, group, owner, "LCSW")
    provider = await make_user(db, first_name="Pat", last_name="Provider")
    await make_provider(db, group, provider, "LPC")
    colleague = await make_user(db, first_name="Quinn", last_name="Colleague")
    await make_provider(db, group, colleague, "LMFT")
    admin = await make_user(db, first_name="Ada", last_name="Admin")
    await add_member(db, group, admin, admin=True)
    person = await make_user(db, first_name="Casey", last_name="Client")
    client, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, added_by=owner.id)
    other_person = await make_user(db, first_name="Dana", last_name="Client")
    other_client, _ = await enroll(db, group_id=group.id, user=other_person, provider_user_id=colleague.id, added_by=owner.id)
    return Cast(group, owner, provider, colleague, admin, client, other_client)


@pytest.fixture
async def cast(db: AsyncSession) -> Cast:
    return await build_cast(db)


@pytest.fixture
async def sessionmaker(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Real, committed transactions; every table is emptied afterwards."""
    yield async_sessionmaker(engine, expire_on_commit=False)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))  # the audit log refuses TRUNCATE (R3)
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))


@pytest.fixture
def bank(redis: ArqRedis) -> SimulatedBank:
    return SimulatedBank(redis)
