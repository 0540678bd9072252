"""The demo data `caseload dev` seeds: every role can log in (issue 3's walkthrough relies on it)."""

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.demo import DEMO_PASSWORD, DOMAIN, seed_if_empty


async def test_demo_seeds_once_and_every_role_logs_in(live_client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    from app.config import get_settings

    url = get_settings().database_url
    logins = await seed_if_empty(url)
    assert logins and await seed_if_empty(url) is None  # seeded only when empty
    roles = {}
    for local in ("owner", "admin", "provider-admin", "provider", "provider2"):
        token = await live_client.post("/v1/auth/token", data={"username": f"{local}@{DOMAIN}", "password": DEMO_PASSWORD})
        me = await live_client.get("/v1/me", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        roles[local] = me.json()["memberships"][0]["roles"]
    assert roles == {
        "owner": ["owner", "provider"],
        "admin": ["admin"],
        "provider-admin": ["admin", "provider"],
        "provider": ["provider"],
        "provider2": ["provider"],
    }
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM rates"))).scalar_one() == 4
    # rule C4: clients in every onboarding state, as the provider sees them
    token = await live_client.post("/v1/auth/token", data={"username": f"provider@{DOMAIN}", "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    group_id = (await live_client.get("/v1/me", headers=headers)).json()["memberships"][0]["group_id"]
    clients = (await live_client.get(f"/v1/groups/{group_id}/clients", headers=headers)).json()["items"]
    missing = {c["last_name"]: c["readiness"]["missing"] for c in clients}
    assert missing["Ready"] == [] and missing["Private"] == []
    assert missing["New"] == ["account_verified", "insurance_on_file", "billing_method_on_file", "billing_policy_acknowledged", "privacy_policy_acknowledged"]
    assert len({tuple(m) for m in missing.values()}) == 5


async def test_demo_providers_have_open_slots(live_client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    # rule S9: the demo shows availability at once (Sam's weekly hours in Chicago, minus his sessions)
    from app.config import get_settings

    await seed_if_empty(get_settings().database_url)
    token = await live_client.post("/v1/auth/token", data={"username": f"provider@{DOMAIN}", "password": DEMO_PASSWORD})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    me = (await live_client.get("/v1/me", headers=headers)).json()
    group_id, user_id = me["memberships"][0]["group_id"], me["user"]["id"]
    hours = (await live_client.get(f"/v1/groups/{group_id}/providers/{user_id}/weekly-hours", headers=headers)).json()
    assert hours["time_zone"] == "America/Chicago" and len(hours["hours"]) == 5
    slots = await live_client.get(f"/v1/groups/{group_id}/providers/{user_id}/open-slots", headers=headers)
    assert slots.status_code == 200 and len(slots.json()["slots"]) > 20
