"""The capability matrix's payout samples work: the world's payout is readable by an admin."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories import user_headers
from tests.payouts.conftest import Cast
from tests.payouts.route_samples import SAMPLE_BODIES, extend_world


async def test_extend_world_adds_a_readable_payout(client: httpx.AsyncClient, db: AsyncSession, cast: Cast) -> None:
    ids = {"group_id": cast.group.id, "client_id": cast.client.id, "user_id": cast.provider.id}
    await extend_world(db, ids, None)  # type: ignore[arg-type]
    response = await client.get(f"/v1/groups/{cast.group.id}/payouts/{ids['payout_id']}", headers=await user_headers(db, cast.admin))
    assert response.status_code == 200 and response.json()["amount_cents"] == 15000
    removal = await client.post(
        f"/v1/groups/{cast.group.id}/members/{cast.provider.id}/removal",
        json=SAMPLE_BODIES["memberships-remove_provider"], headers=await user_headers(db, cast.admin),
    )
    assert removal.status_code == 409  # the payout is not paid yet: a blocker (G6)
