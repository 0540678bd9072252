"""The capability matrix's webhook samples work: the world's endpoint and delivery are readable by an admin."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Group, User
from tests.fixtures.factories import user_headers
from tests.webhooks.route_samples import SAMPLE_BODIES, extend_world


async def test_extend_world_adds_an_endpoint_with_a_delivery(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    ids = {"group_id": group.id}
    await extend_world(db, ids, None)  # type: ignore[arg-type]
    headers = await user_headers(db, owner)
    base = f"/v1/groups/{group.id}/webhook-endpoints"
    log = await client.get(f"{base}/{ids['endpoint_id']}/deliveries", headers=headers)
    assert log.status_code == 200 and [d["id"] for d in log.json()["items"]] == [ids["delivery_id"]]
    replay = await client.post(f"{base}/{ids['endpoint_id']}/deliveries/{ids['delivery_id']}/replay", headers=headers)
    assert replay.status_code == 202 and replay.json()["event_id"] == log.json()["items"][0]["event_id"]
    assert (await client.post(base, json=SAMPLE_BODIES["webhooks-create_webhook_endpoint"], headers=headers)).status_code == 201
    patched = await client.patch(f"{base}/{ids['endpoint_id']}", json=SAMPLE_BODIES["webhooks-update_webhook_endpoint"], headers=headers)
    assert patched.status_code == 200
