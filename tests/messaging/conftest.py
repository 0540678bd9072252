"""The cast of the messaging tests: a group with an owner who also provides, a provider, an admin who
does not provide, a client on the provider's roster, and outsiders."""

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.memberships.service import make_provider
from app.models import AuditEvent, Client, Group, User
from tests.fixtures.factories import make_group, make_user, user_headers


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    group = await make_group(db, owner=owner, name="Messaging Practice")
    await make_provider(db, group, owner, "LCSW")  # the owner provides too, just not to this client
    return group


@pytest.fixture
async def other_provider(db: AsyncSession, group: Group) -> User:
    user = await make_user(db, first_name="Quinn", last_name="Colleague")
    await make_provider(db, group, user, "LMFT")
    return user


@pytest.fixture
async def client_person(db: AsyncSession) -> User:
    return await make_user(db, first_name="Casey", last_name="Client")


@pytest.fixture
async def client_record(db: AsyncSession, group: Group, provider: User, client_person: User) -> Client:
    client, _ = await enroll(db, group_id=group.id, user=client_person, provider_user_id=provider.id, added_by=provider.id)
    return client


@pytest.fixture
async def stranger(db: AsyncSession) -> User:
    """The owner (and a provider) of another group: every capability there, none here."""
    user = await make_user(db, first_name="Sam", last_name="Stranger")
    other = await make_group(db, owner=user, name="Other Practice")
    await make_provider(db, other, user, "PsyD")
    return user


@dataclass
class Http:
    """Calls as one person: their own session token on every request."""

    client: httpx.AsyncClient
    headers: dict[str, str]

    async def get(self, url: str, **params: object) -> httpx.Response:
        return await self.client.get(url, params=params or None, headers=self.headers)

    async def post(self, url: str, json: object, **headers: str) -> httpx.Response:
        return await self.client.post(url, json=json, headers={**self.headers, **headers})


@pytest.fixture
def as_user(client: httpx.AsyncClient, db: AsyncSession):
    async def make(user: User) -> Http:
        return Http(client, await user_headers(db, user))

    return make


def conversations_url(group: Group) -> str:
    return f"/v1/groups/{group.id}/conversations"


def messages_url(group: Group, conversation_id: str) -> str:
    return f"/v1/groups/{group.id}/conversations/{conversation_id}/messages"


def my_messages_url(conversation_id: str) -> str:
    return f"/v1/me/conversations/{conversation_id}/messages"


async def audit_events(db: AsyncSession, action: str) -> list[AuditEvent]:
    rows = await db.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
    return list(rows)
