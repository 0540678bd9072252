"""A person's login sessions ("logins"): listed, ended one by one or everywhere: rule A7."""

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent, AuthSession
from tests.auth.conftest import PASSWORD
from tests.fixtures.factories import bearer, make_user, user_headers


async def login_as(client: httpx.AsyncClient, user_agent: str) -> dict[str, str]:
    response = await client.post(
        "/v1/auth/token", data={"username": "grace@example.com", "password": PASSWORD}, headers={"User-Agent": user_agent}
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def test_a_person_lists_their_logins_with_where_they_came_from(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A7: created, last seen, from where; the current one marked
    laptop = await login_as(client, "Firefox on the laptop")
    phone = await login_as(client, "Safari on the phone")
    stranger = await make_user(db)
    await user_headers(db, stranger)  # someone else's login is never listed
    response = await client.get("/v1/me/logins", headers=phone)
    assert response.status_code == 200
    items = response.json()["items"]
    assert sorted(item["user_agent"] for item in items) == ["Firefox on the laptop", "Safari on the phone"]
    assert {item["ip"] for item in items} == {"203.0.113.7"}
    assert [item["user_agent"] for item in items if item["current"]] == ["Safari on the phone"]
    assert all(item["created_at"] and item["last_seen_at"] and item["expires_at"] for item in items)
    assert (await client.get("/v1/me/logins", headers=laptop)).status_code == 200


async def test_ended_and_expired_logins_are_not_listed(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    current = await login_as(client, "current")
    await login_as(client, "idle")
    await db.execute(update(AuthSession).where(AuthSession.user_agent == "idle").values(last_seen_at=func.now() - func.make_interval(0, 0, 0, 0, 2)))
    items = (await client.get("/v1/me/logins", headers=current)).json()["items"]
    assert [item["user_agent"] for item in items] == ["current"]


async def test_ending_one_login_stops_its_token_at_once(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A7: ends any of them
    laptop = await login_as(client, "laptop")
    phone = await login_as(client, "phone")
    items = (await client.get("/v1/me/logins", headers=phone)).json()["items"]
    laptop_id = next(item["id"] for item in items if item["user_agent"] == "laptop")
    assert (await client.delete(f"/v1/me/logins/{laptop_id}", headers=phone)).status_code == 204
    assert (await client.get("/v1/me", headers=laptop)).status_code == 401
    assert (await client.get("/v1/me", headers=phone)).status_code == 200
    again = await client.delete(f"/v1/me/logins/{laptop_id}", headers=phone)
    assert again.status_code == 404
    assert await db.scalar(select(func.count()).where(AuditEvent.action == "auth.login_ended")) == 1


async def test_another_persons_login_is_not_found(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A7, and R1's rule that another's object is a 404 that changes nothing
    stranger = await make_user(db)
    stranger_headers = await user_headers(db, stranger)
    mine = await login_as(client, "mine")
    my_login = (await client.get("/v1/me/logins", headers=mine)).json()["items"][0]["id"]
    response = await client.delete(f"/v1/me/logins/{my_login}", headers=stranger_headers)
    assert response.status_code == 404
    assert (await client.get("/v1/me", headers=mine)).status_code == 200


async def test_logout_everywhere_ends_every_login(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A7
    logins = [await login_as(client, f"device {n}") for n in range(3)]
    assert (await client.post("/v1/auth/logout-everywhere", headers=logins[0])).status_code == 204
    for headers in logins:
        assert (await client.get("/v1/me", headers=headers)).status_code == 401
    assert await db.scalar(select(func.count()).select_from(AuthSession).where(AuthSession.user_id == person.id, AuthSession.revoked_at.is_(None))) == 0


async def test_last_seen_is_written_at_most_once_a_minute(client: httpx.AsyncClient, db: AsyncSession, person) -> None:
    # rule A7: last seen without a write per request
    headers = await login_as(client, "browser")
    await db.execute(update(AuthSession).values(last_seen_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 30)))
    before = await db.scalar(select(AuthSession.last_seen_at))
    await client.get("/v1/me", headers=headers)
    assert await db.scalar(select(AuthSession.last_seen_at)) == before  # 30 s old: not rewritten
    await db.execute(update(AuthSession).values(last_seen_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 2)))
    await client.get("/v1/me", headers=headers)
    assert await db.scalar(select(AuthSession.last_seen_at > func.now() - func.make_interval(0, 0, 0, 0, 0, 1)))
