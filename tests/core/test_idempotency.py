"""Idempotency-Key on creating POSTs: rule X2."""

import asyncio

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.models import ApiKey, Group, IdempotencyRecord, User
from tests.fixtures.factories import make_group, make_user, user_headers


@pytest.fixture
async def owner(db: AsyncSession) -> User:
    return await make_user(db)


@pytest.fixture
async def group(db: AsyncSession, owner: User) -> Group:
    return await make_group(db, owner=owner)


async def test_a_retry_replays_the_first_response(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X2
    headers = {**await user_headers(db, owner), "Idempotency-Key": "create-key-1"}
    first = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Partner"}, headers=headers)
    retry = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Partner"}, headers=headers)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()  # the same key id and secret: nothing created twice
    assert retry.headers["idempotent-replayed"] == "true"
    assert await db.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.group_id == group.id)) == 1


async def test_the_same_key_with_another_body_is_refused(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X2
    headers = {**await user_headers(db, owner), "Idempotency-Key": "create-key-2"}
    await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Partner"}, headers=headers)
    other = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Someone else"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert await db.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.group_id == group.id)) == 1


async def test_keys_belong_to_their_caller(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    second_owner = await make_user(db)
    second_group = await make_group(db, owner=second_owner)
    for who, where in ((owner, group), (second_owner, second_group)):
        headers = {**await user_headers(db, who), "Idempotency-Key": "same-key"}
        response = await client.post(f"/v1/groups/{where.id}/api-keys", json={"name": "Partner"}, headers=headers)
        assert response.status_code == 201 and "idempotent-replayed" not in response.headers


async def test_refusals_are_not_stored(client: httpx.AsyncClient, db: AsyncSession, group: Group) -> None:
    provider = await make_user(db)
    headers = {**await user_headers(db, provider), "Idempotency-Key": "refused"}
    assert (await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "x"}, headers=headers)).status_code == 404
    assert await db.scalar(select(func.count()).select_from(IdempotencyRecord)) == 0


async def test_keys_are_kept_for_at_least_24_hours(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    # rule X2
    headers = {**await user_headers(db, owner), "Idempotency-Key": "kept"}
    await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Partner"}, headers=headers)
    kept_for = await db.scalar(select(IdempotencyRecord.expires_at - IdempotencyRecord.created_at))
    assert kept_for.total_seconds() >= 24 * 3600


async def test_an_expired_key_can_be_used_again(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    headers = {**await user_headers(db, owner), "Idempotency-Key": "expired"}
    await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Partner"}, headers=headers)
    await db.execute(text("UPDATE idempotency_records SET expires_at = now() - interval '1 second'"))
    again = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Other"}, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers


async def test_an_overlong_key_is_refused(client: httpx.AsyncClient, db: AsyncSession, owner: User, group: Group) -> None:
    headers = {**await user_headers(db, owner), "Idempotency-Key": "k" * 256}
    response = await client.post(f"/v1/groups/{group.id}/api-keys", json={"name": "Partner"}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"


async def test_a_key_still_in_use_is_409(live_client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    # rule X2: the first request still running -> 409 for the duplicate. Real commits: another
    # connection holds the key's lock, as a first request in flight would.
    import hashlib

    async with engine.begin() as conn:
        owner = (await conn.execute(text(
            "INSERT INTO users (id, email, first_name, last_name, email_verified_at) "
            "VALUES (gen_random_uuid(), 'inflight@example.com', 'In', 'Flight', now()) RETURNING id"
        ))).scalar_one()
        group = (await conn.execute(text("INSERT INTO groups (id, name) VALUES (gen_random_uuid(), 'G') RETURNING id"))).scalar_one()
        await conn.execute(text("INSERT INTO memberships (id, group_id, user_id, is_owner, is_admin) VALUES (gen_random_uuid(), :g, :u, true, true)"), {"g": group, "u": owner})
    from app.core import tokens

    secret = tokens.new_secret(tokens.SESSION_PREFIX)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) VALUES (gen_random_uuid(), :u, :h, now() + interval '1 hour')"),
            {"u": owner, "h": tokens.digest(secret)},
        )
    lock_id = int.from_bytes(hashlib.sha256(f"user:{owner}\0in-flight".encode()).digest()[:8], "big", signed=True)
    async with engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
        busy = await live_client.post(
            f"/v1/groups/{group}/api-keys",
            json={"name": "Partner"},
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "in-flight"},
        )
        await holder.rollback()
    assert busy.status_code == 409
    assert busy.json()["code"] == "idempotency_key_in_use" and busy.headers["retry-after"] == "1"


async def test_concurrent_duplicates_create_once(live_client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    # rule X2 under a real race: the loser sees 409 (in flight) or the replay, never a second key
    async with engine.begin() as conn:
        owner = (await conn.execute(text(
            "INSERT INTO users (id, email, first_name, last_name, email_verified_at) "
            "VALUES (gen_random_uuid(), 'race@example.com', 'Ra', 'Ce', now()) RETURNING id"
        ))).scalar_one()
        group = (await conn.execute(text("INSERT INTO groups (id, name) VALUES (gen_random_uuid(), 'G') RETURNING id"))).scalar_one()
        await conn.execute(text("INSERT INTO memberships (id, group_id, user_id, is_owner, is_admin) VALUES (gen_random_uuid(), :g, :u, true, true)"), {"g": group, "u": owner})
        from app.core import tokens

        secret = tokens.new_secret(tokens.SESSION_PREFIX)
        await conn.execute(
            text("INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) VALUES (gen_random_uuid(), :u, :h, now() + interval '1 hour')"),
            {"u": owner, "h": tokens.digest(secret)},
        )
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "raced"}
    responses = await asyncio.gather(
        *(live_client.post(f"/v1/groups/{group}/api-keys", json={"name": "Partner"}, headers=headers) for _ in range(6))
    )
    assert {r.status_code for r in responses} <= {201, 409}
    created = [r.json()["id"] for r in responses if r.status_code == 201]
    assert len(set(created)) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM api_keys WHERE group_id = :g"), {"g": group})).scalar_one() == 1
