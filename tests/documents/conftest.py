"""The cast of the document tests: a group with its owner, a provider with a client, a colleague with
another client, an admin who does not provide, the group's API key, and another group's owner."""


import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.core.storage import Storage
from app.models import AuditEvent, Client, ClientDocument, Group, User
from tests.fixtures.app import stored_keys
from tests.fixtures.factories import make_group, make_user

# Smallest bytes each detector accepts.
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    return await make_group(db, owner=owner, name="Documents Practice")


@pytest.fixture
async def stranger(db: AsyncSession) -> User:
    return await make_user(db, first_name="Sam", last_name="Stranger")


@pytest.fixture
async def other_group(db: AsyncSession, stranger: User) -> Group:
    """Another practice, owned by `stranger`: every capability there, none here."""
    return await make_group(db, owner=stranger, name="Other Practice")


@pytest.fixture
async def client_record(db: AsyncSession, group: Group, provider: User) -> Client:
    person = await make_user(db, first_name="Casey", last_name="Client")
    client, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, added_by=provider.id)
    return client


@pytest.fixture
async def colleagues_client(db: AsyncSession, group: Group, colleague: User) -> Client:
    person = await make_user(db, first_name="Drew", last_name="Other")
    client, _ = await enroll(db, group_id=group.id, user=person, provider_user_id=colleague.id, added_by=colleague.id)
    return client


def documents_url(group: Group, client: Client) -> str:
    return f"/v1/groups/{group.id}/clients/{client.id}/documents"


async def upload(
    http: httpx.AsyncClient,
    group: Group,
    client: Client,
    headers: dict[str, str],
    data: bytes = PDF,
    name: str = "notes.pdf",
    content_type: str = "application/pdf",
) -> httpx.Response:
    return await http.post(documents_url(group, client), files={"file": (name, data, content_type)}, headers=headers)


def stored_files(storage: Storage) -> list[str]:
    """Every object's key in storage (half-written ones included: none may be left behind)."""
    return stored_keys(storage)


async def documents_of(db: AsyncSession, client: Client) -> list[ClientDocument]:
    return list(await db.scalars(select(ClientDocument).where(ClientDocument.client_id == client.id)))


async def audit_events(db: AsyncSession, group: Group, prefix: str = "document.") -> list[AuditEvent]:
    rows = await db.scalars(
        select(AuditEvent).where(AuditEvent.group_id == group.id, AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id)
    )
    return list(rows)
