"""The capability matrix's sample bodies for these routes are valid: an allowed caller gets a 2xx."""

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from app.models import Group, User
from tests.fixtures.factories import user_headers
from app.core import tokens
from tests.practice.route_samples import CONFIRMATION_TOKEN, SAMPLE_BODIES, extend_world


def sampled_operations() -> list[tuple[str, str, str]]:
    spec = create_app().openapi()
    return [
        (method.upper(), path, operation["operationId"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if operation["tags"][0] in ("practice", "providers") and "requestBody" in operation
    ]


async def test_every_route_with_a_body_has_a_valid_sample(client: httpx.AsyncClient, app: FastAPI, db: AsyncSession, group: Group, owner: User, provider: User, staff: User) -> None:
    operations = sampled_operations()
    await extend_world(db, {"group_id": group.id}, app.state.storage)  # the bank account change to decide on
    assert {op_id for _, _, op_id in operations} == set(SAMPLE_BODIES)
    owner_headers, staff_headers = await user_headers(db, owner), await user_headers(db, staff)
    # The staff decision needs a submission to decide on; submit first.
    operations.sort(key=lambda op: op[2] == "practice-decide_identity_verification")
    for method, path, operation_id in operations:
        headers = staff_headers if path.startswith("/v1/ops/") else owner_headers
        url = path.replace("{group_id}", str(group.id)).replace("{user_id}", str(provider.id))
        if operation_id in ("practice-confirm_bank_account", "practice-refuse_bank_account"):
            # The world's change is decided twice here (and the sample PUT superseded it): it waits again.
            await db.execute(text("UPDATE bank_account_changes SET status = 'superseded' WHERE group_id = :g"), {"g": group.id})
            await db.execute(text("UPDATE bank_account_changes SET status = 'pending_owner_confirmation' WHERE token_hash = :t"),
                             {"t": tokens.digest(CONFIRMATION_TOKEN)})
        response = await client.request(method, url, json=SAMPLE_BODIES[operation_id], headers=headers)
        assert 200 <= response.status_code < 300, (operation_id, response.text)
