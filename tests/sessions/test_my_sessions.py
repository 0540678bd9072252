"""The client's own sessions: rule C11 (and S4's window as the client meets it)."""

from datetime import timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.clients.service import enroll
from app.memberships.service import make_provider
from app.models import Client, Group, User
from tests.fixtures.factories import make_group, make_user
from tests.sessions.conftest import NOW, Clock, at, book, sessions_url


async def test_a_client_sees_their_sessions_across_practices(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule C11: upcoming and past, every practice, no codes
    person = await db.get(User, client_record.user_id)
    elsewhere = await make_group(db, name="Elsewhere Counseling")
    other = await make_user(db, first_name="Other", last_name="Provider")
    await make_provider(db, elsewhere, other, "LPC")
    there_record, _ = await enroll(db, group_id=elsewhere.id, user=person, provider_user_id=other.id, added_by=other.id)
    here = await book(client, group, await as_user(provider), client_record, NOW + timedelta(days=2))
    there = await book(client, elsewhere, await as_user(other), there_record, NOW + timedelta(days=1))
    past = await book(client, group, await as_user(provider), client_record, NOW - timedelta(days=3))
    assert here.status_code == there.status_code == past.status_code == 201
    mine = await as_user(person)
    upcoming = await client.get("/v1/me/sessions", headers=mine)
    assert upcoming.status_code == 200, upcoming.text
    items = upcoming.json()["items"]
    assert [i["id"] for i in items] == [there.json()["id"], here.json()["id"]]
    assert [i["practice_name"] for i in items] == ["Elsewhere Counseling", "Sessions Practice"]
    assert "service_code" not in upcoming.text and "diagnosis_code" not in upcoming.text
    before = await client.get("/v1/me/sessions?when=past", headers=mine)
    assert [i["id"] for i in before.json()["items"]] == [past.json()["id"]]
    # the provider has no client sessions of their own
    assert (await client.get("/v1/me/sessions", headers=await as_user(provider))).json()["items"] == []


async def test_a_client_cancels_before_the_window_and_is_sent_to_the_provider_inside_it(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule C11, S4: the group's policy is 24 hours and $75
    person = await db.get(User, client_record.user_id)
    mine = await as_user(person)
    soon = (await book(client, group, await as_user(provider), client_record, NOW + timedelta(hours=23))).json()
    later = (await book(client, group, await as_user(provider), client_record, NOW + timedelta(hours=25))).json()
    refused = await client.post(f"/v1/me/sessions/{soon['id']}/cancel", json={}, headers=mine)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "inside_cancellation_window" and problem["fee_cents"] == 7500
    assert "contact your provider" in problem["detail"]
    cancelled = await client.post(f"/v1/me/sessions/{later['id']}/cancel", json={"reason": "Travel"}, headers=mine)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancellation"]["by"] == "client"
    assert cancelled.json()["cancellation"]["late_cancellation_fee_cents"] is None
    # the practice sees the client's cancellation
    seen = await client.get(sessions_url(group, later["id"]), headers=await as_user(provider))
    assert seen.json()["cancellation"]["by"] == "client"
    # nobody else cancels it: another person's session is not there
    stranger = await make_user(db, first_name="Stranger", last_name="Person")
    other = await client.post(f"/v1/me/sessions/{soon['id']}/cancel", json={}, headers=await as_user(stranger))
    assert other.status_code == 404
    # exactly at the window's edge it is still on time
    frozen.set(at(soon["starts_at"].replace("Z", "+00:00")) - timedelta(hours=24))
    on_time = await client.post(f"/v1/me/sessions/{soon['id']}/cancel", json={}, headers=mine)
    assert on_time.status_code == 200 and on_time.json()["status"] == "cancelled"
