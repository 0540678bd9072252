"""The demo's week of sessions (app/demo.py): every state on Sam's calendar, as he sees it."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from app.demo import DEMO_PASSWORD, DOMAIN, seed_if_empty


async def test_demo_week_has_sessions_in_every_state(live_client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    # rules S1-S6
    from app.config import get_settings

    assert await seed_if_empty(get_settings().database_url)
    token = await live_client.post("/v1/auth/token", data={"username": f"provider@{DOMAIN}", "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    group_id = (await live_client.get("/v1/me", headers=headers)).json()["memberships"][0]["group_id"]
    now = datetime.now(UTC)
    week = {"from": (now - timedelta(days=5)).isoformat(), "to": (now + timedelta(days=5)).isoformat()}
    response = await live_client.get(f"/v1/groups/{group_id}/sessions", params=week, headers=headers)
    sessions = response.json()["items"]
    assert {s["status"] for s in sessions} == {"scheduled", "confirmed", "cancelled", "late_cancelled", "no_show"}
    [confirmed] = [s for s in sessions if s["status"] == "confirmed"]
    assert confirmed["confirmation"]["pay_date"] and confirmed["confirmation"]["arrives_latest"]
    [late] = [s for s in sessions if s["status"] == "late_cancelled"]
    assert late["cancellation"]["late_cancellation_fee_cents"] == 7500
    # rule S11: a weekly series of twelve from a week on
    later = {"from": (now + timedelta(days=6)).isoformat(), "to": (now + timedelta(days=90)).isoformat()}
    series = [s for s in (await live_client.get(f"/v1/groups/{group_id}/sessions", params=later, headers=headers)).json()["items"]
              if s["series_id"]]
    assert len(series) == 12 and len({s["series_id"] for s in series}) == 1
