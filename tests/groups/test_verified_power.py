"""Power needs a verified account (rule A9): over HTTP, as the issue's probe found it."""

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import BankAccount, Group
from tests.fixtures.factories import add_member, make_group, make_user, user_headers

BANK = {"account_holder_name": "Rosa Alvarez", "routing_number": "011000015", "account_number": "000123456789",
        "account_type": "checking"}


async def test_an_unverified_account_cannot_create_a_group(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A9: a sign-up that never verified its email sets up no practice
    unverified = await make_user(db, verified=False)
    before = await db.scalar(select(func.count()).select_from(Group))
    response = await client.post("/v1/groups", json={"owner_license_type": "LCSW"}, headers=await user_headers(db, unverified))
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "email_unverified"
    assert "/v1/auth/resend-verification" in response.json()["detail"]
    assert await db.scalar(select(func.count()).select_from(Group)) == before


async def test_an_unverified_owner_sets_no_bank_account_rates_or_keys(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule A9: money, access and settings wait for the owner's verified email
    owner = await make_user(db, verified=False)
    group = await make_group(db, owner=owner)
    headers = await user_headers(db, owner)
    base = f"/v1/groups/{group.id}"
    refused = [
        await client.put(f"{base}/bank-account", json=BANK, headers=headers),
        await client.put(f"{base}/rates", json={"rates": []}, headers=headers),
        await client.post(f"{base}/api-keys", json={"name": "EHR"}, headers=headers),
        await client.post(f"{base}/admin-grants", json={"full_name": "Val Admin", "email": "val@example.com"}, headers=headers),
        await client.patch(f"{base}/settings", json={"contact_phone": None}, headers=headers),
        await client.get(f"{base}/payouts", headers=headers),
    ]
    assert [(r.status_code, r.json()["code"]) for r in refused] == [(409, "email_unverified")] * len(refused)
    assert await db.scalar(select(BankAccount).where(BankAccount.group_id == group.id)) is None
    # The group is still theirs to read, and a verified admin of the same group keeps every power.
    assert (await client.get(base, headers=headers)).status_code == 200
    admin = await make_user(db)
    await add_member(db, group, admin, admin=True)
    assert (await client.get(f"{base}/payouts", headers=await user_headers(db, admin))).status_code == 200
