"""Times a calendar accepts: rule X5 (dates in a sane range, no numbers for dates or booleans)."""

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Client, Group, TherapySession, User
from tests.sessions.conftest import Clock, sessions_url


async def test_a_start_outside_1900_2200_is_refused_never_booked(client: httpx.AsyncClient, db: AsyncSession, group: Group,
                                                                 provider: User, client_record: Client, frozen: Clock, as_user) -> None:
    # rule X5: year 1 (and year 1 plus a day), year 9999, a number or text that is no time: 422, nothing booked
    headers = await as_user(provider)
    base = {"client_id": str(client_record.id), "duration_minutes": 60, "telehealth": True}
    for starts_at in ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00+01:00", "9999-12-31T23:00:00Z", "1899-12-31T23:00:00Z",
                      0, 1700000000, True, "tomorrow"):
        refused = await client.post(sessions_url(group), json={**base, "starts_at": starts_at}, headers=headers)
        assert refused.status_code == 422, (starts_at, refused.text)
        assert refused.json()["code"] == "validation_failed" and refused.json()["errors"][0]["field"] == "body.starts_at"
    # booleans are not numbers and numbers are not booleans
    for wrong in ({"telehealth": 1}, {"duration_minutes": "60"}, {"duration_minutes": True}, {"duration_minutes": 60.5}):
        refused = await client.post(sessions_url(group), json={**base, "starts_at": frozen.now.isoformat(), **wrong}, headers=headers)
        assert refused.status_code == 422, (wrong, refused.text)
    assert await db.scalar(select(func.count()).select_from(TherapySession)) == 0


async def test_calendar_ranges_outside_1900_2200_are_refused(client: httpx.AsyncClient, group: Group, provider: User, as_user) -> None:
    # rule X5: query parameters count too
    headers = await as_user(provider)
    for params in ({"from": "0001-01-01T00:00:00Z"}, {"to": "9999-12-31T00:00:00Z"}, {"from": "2026-01-01T00:00:00"}):
        refused = await client.get(sessions_url(group), params=params, headers=headers)
        assert refused.status_code == 422, (params, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(sessions_url(group), params={"from": "2026-01-01T00:00:00Z"}, headers=headers)).status_code == 200


async def test_empty_cursor_is_the_first_page(client: httpx.AsyncClient, group: Group, provider: User, as_user) -> None:
    # rule X5: `?cursor=` (a client sending the last page's null as text) reads the first page, never a 500
    headers = await as_user(provider)
    for url in (sessions_url(group), f"/v1/groups/{group.id}/clients"):
        response = await client.get(url, params={"cursor": ""}, headers=headers)
        assert response.status_code == 200, response.text
