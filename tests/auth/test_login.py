"""Login sessions, /v1/me, logout, expiry and throttling: rules A1, A3, A4, R2."""

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.passwords import hash_password
from app.models import AuditEvent, AuthSession
from tests.fixtures.factories import (
    add_member,
    bearer,
    make_group,
    make_user,
    user_headers,
)

PASSWORD = "a long enough password"


@pytest.fixture
async def person(db: AsyncSession):
    return await make_user(db, email="grace@example.com", first_name="Grace", last_name="Hopper", password_hash=await hash_password(PASSWORD))


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/v1/auth/token", data={"username": username, "password": password})


async def test_login_issues_an_opaque_token_that_authenticates(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A3
    response = await login(client, "GRACE@example.com", PASSWORD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("cls_")
    stored = await db.scalar(select(AuthSession).where(AuthSession.user_id == person.id))
    assert stored.token_hash != body["access_token"].encode()  # only the hash is stored
    me = await client.get("/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["user"]["email"] == "grace@example.com"


async def test_me_lists_the_callers_groups_and_roles(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A1: one person can hold several roles; G2
    own = await make_group(db, owner=person, name="Hopper Counseling")
    other = await make_group(db, name="Another Practice")
    await add_member(db, other, person, provider=True)
    ended = await make_group(db, name="Old Practice")
    membership = await add_member(db, ended, person, provider=True)
    membership.ended_at = func.now()
    await db.flush()
    me = (await client.get("/v1/me", headers=await user_headers(db, person))).json()
    assert me["kind"] == "user"
    assert {(m["group_id"], tuple(m["roles"])) for m in me["memberships"]} == {
        (str(own.id), ("owner", "admin", "provider")),
        (str(other.id), ("provider",)),
    }


async def test_wrong_password_and_unknown_email_look_the_same(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    wrong = await login(client, "grace@example.com", "not the password at all")
    unknown = await login(client, "nobody@example.com", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["code"] == "invalid_credentials"
    # rule R2: the failed attempt is audited (committed although the answer is an error)
    failures = (await db.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login", AuditEvent.outcome == "failure"))).all()
    assert sorted(str(e.target_id) for e in failures) == sorted([str(person.id), "None"])
    assert all(str(e.actor_ip) == "203.0.113.7" and e.request_id for e in failures)


async def test_repeated_failures_for_an_account_are_throttled(client: httpx.AsyncClient, person) -> None:
    for _ in range(5):
        assert (await login(client, "grace@example.com", "wrong password!!")).status_code == 401
    throttled = await login(client, "grace@example.com", PASSWORD)  # even the right password waits
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "too_many_login_attempts"
    assert 0 < int(throttled.headers["Retry-After"]) <= 900


async def test_repeated_failures_from_one_address_are_throttled(client: httpx.AsyncClient, person) -> None:
    for n in range(30):
        await login(client, f"someone-{n}@example.com", "wrong password!!")
    response = await login(client, "grace@example.com", PASSWORD)
    assert response.status_code == 429
    assert "address" in response.json()["detail"]


async def test_success_resets_the_account_counter(client: httpx.AsyncClient, person) -> None:
    for _ in range(4):
        await login(client, "grace@example.com", "wrong password!!")
    assert (await login(client, "grace@example.com", PASSWORD)).status_code == 200
    for _ in range(4):
        await login(client, "grace@example.com", "wrong password!!")
    assert (await login(client, "grace@example.com", PASSWORD)).status_code == 200


async def test_logout_ends_the_session(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    token = (await login(client, "grace@example.com", PASSWORD)).json()["access_token"]
    assert (await client.post("/v1/auth/logout", headers=bearer(token))).status_code == 204
    after = await client.get("/v1/me", headers=bearer(token))
    assert after.status_code == 401
    assert after.headers["www-authenticate"] == "Bearer"


async def test_idle_sessions_expire(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    headers = await user_headers(db, person)
    await db.execute(update(AuthSession).values(last_seen_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 59)))
    assert (await client.get("/v1/me", headers=headers)).status_code == 200  # 59 idle minutes: still fine
    # and the use slid the idle window forward
    assert await db.scalar(select(AuthSession.last_seen_at > func.now() - func.make_interval(0, 0, 0, 0, 0, 1)))
    await db.execute(update(AuthSession).values(last_seen_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 61)))
    assert (await client.get("/v1/me", headers=headers)).status_code == 401


async def test_sessions_expire_absolutely(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    headers = await user_headers(db, person)
    await db.execute(update(AuthSession).values(expires_at=func.now()))
    assert (await client.get("/v1/me", headers=headers)).status_code == 401


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer cls_forged"}, {"Authorization": "Bearer nonsense"}, {"X-API-Key": "ck_forged"}])
async def test_missing_or_forged_credentials_are_401(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.get("/v1/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
