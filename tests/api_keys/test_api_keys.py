"""Partner API keys: rule A3 (group-scoped, shown once, stored hashed, revocable), R1 (tenancy)."""

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import tokens
from app.models import ApiKey, AuditEvent, Group, User
from tests.fixtures.factories import (
    add_member,
    api_key,
    bearer,
    make_group,
    make_user,
    user_headers,
)


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db, first_name="Olive", last_name="Owner")


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    return await make_group(db, owner=owner)


async def test_key_is_shown_once_and_stored_as_a_hash(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule A3
    headers = await user_headers(db, owner)
    created = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Billing partner"}, headers=headers)
    assert created.status_code == 201, created.text
    secret = created.json()["key"]
    assert secret.startswith("ck_") and created.json()["display_prefix"] == secret[:12]
    stored = await db.scalar(select(ApiKey).where(ApiKey.id == created.json()["id"]))
    assert stored.key_hash == tokens.digest(secret)
    listed = await client.get(f"/v1/groups/{group.id}/api-keys", headers=headers)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()["items"]] == [created.json()["id"]]
    assert secret not in listed.text and "key" not in listed.json()["items"][0]
    audit = await db.scalar(select(AuditEvent).where(AuditEvent.action == "api_key.created"))
    assert audit.target_id == created.json()["id"] and audit.group_id == group.id


async def test_a_key_authenticates_as_its_group_only(client: httpx.AsyncClient, db: AsyncSession, group: Group) -> None:
    # rule A3: scoped to one group
    secret = await api_key(db, group, name="EHR")
    for headers in (bearer(secret), {"X-API-Key": secret}):
        me = await client.get("/v1/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["kind"] == "api_key" and me.json()["api_key"]["name"] == "EHR"
        assert me.json()["memberships"] == [{"group_id": str(group.id), "group_name": group.name, "roles": ["integration"]}]
    other = await make_group(db, name="Other Practice")
    # rule R1: another group's resources do not exist for this key
    response = await client.get(f"/v1/groups/{other.id}/api-keys", headers=bearer(secret))
    assert response.status_code == 404


async def test_revoked_key_stops_working(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    secret = await api_key(db, group)
    key_id = await db.scalar(select(ApiKey.id).where(ApiKey.key_hash == tokens.digest(secret)))
    assert (await client.get("/v1/me", headers=bearer(secret))).status_code == 200
    revoked = await client.delete(f"/v1/groups/{group.id}/api-keys/{key_id}", headers=await user_headers(db, owner))
    assert revoked.status_code == 204
    after = await client.get("/v1/me", headers=bearer(secret))
    assert after.status_code == 401 and after.json()["code"] == "unauthenticated"


async def test_keys_cannot_mint_keys(client: httpx.AsyncClient, db: AsyncSession, group: Group) -> None:
    # handing out access is for people: an integration cannot create or list keys
    secret = await api_key(db, group)
    response = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "escalation"}, headers=bearer(secret))
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


async def test_only_admins_manage_keys(client: httpx.AsyncClient, db: AsyncSession, group: Group) -> None:
    # rule R1: a member without the capability gets 403; a stranger 404
    provider = await make_user(db)
    await add_member(db, group, provider, provider=True)
    response = await client.get(f"/v1/groups/{group.id}/api-keys", headers=await user_headers(db, provider))
    assert response.status_code == 403
    stranger = await make_user(db)
    response = await client.get(f"/v1/groups/{group.id}/api-keys", headers=await user_headers(db, stranger))
    assert response.status_code == 404 and response.json()["code"] == "not_found"


async def test_revoking_another_groups_key_is_404_and_changes_nothing(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    other = await make_group(db, name="Other Practice")
    secret = await api_key(db, other)
    key = await db.scalar(select(ApiKey).where(ApiKey.key_hash == tokens.digest(secret)))
    response = await client.delete(f"/v1/groups/{group.id}/api-keys/{key.id}", headers=await user_headers(db, owner))
    assert response.status_code == 404
    await db.refresh(key)
    assert key.revoked_at is None
