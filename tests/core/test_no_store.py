"""Responses that may carry PHI are never stored by a cache and never type-sniffed (rule R4).

Generated over the app's own routes: every /v1 operation is called (as a group's owner, with that group in the
path and made-up ids elsewhere), whatever it answers (200, 404, 422...) must say so.
"""

import re
import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.main import create_app
from tests.fixtures.factories import make_group, make_user, user_headers


def operations() -> list[tuple[str, str]]:
    spec = create_app().openapi()
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item if path.startswith("/v1/")]


async def test_every_api_response_says_no_store_and_nosniff(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule R4
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    headers = await user_headers(db, owner)
    ops = operations()
    assert len(ops) > 50
    statuses = set()
    for method, path in ops:
        concrete = path.replace("{group_id}", str(group.id))
        concrete = re.sub(r"\{[a-z_]*id\}", lambda _: str(uuid.uuid4()), concrete)
        concrete = re.sub(r"\{[a-z_]+\}", "x", concrete)  # slugs, years, tokens
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        for credentials in (headers, {}):
            response = await client.request(method, concrete, headers=credentials, **kwargs)
            statuses.add(response.status_code)
            assert "no-store" in response.headers.get("cache-control", ""), (method, path, response.status_code)
            assert response.headers.get("x-content-type-options") == "nosniff", (method, path, response.status_code)
    assert {200, 401, 404, 422} <= statuses  # successes and refusals alike


async def test_a_roster_page_with_names_is_not_stored(client: httpx.AsyncClient, db: AsyncSession) -> None:
    # rule R4: a 200 carrying client names; health checks outside /v1 are left alone
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    response = await client.get(f"/v1/groups/{group.id}/clients", headers=await user_headers(db, owner))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store" and response.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in (await client.get("/healthz")).headers
