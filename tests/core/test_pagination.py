"""Cursor pagination: `?limit=&cursor=` -> `{items, next_cursor}`, with a maximum page size."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import encode_cursor
from tests.fixtures.factories import api_key, make_group, make_user, user_headers


async def test_pages_walk_every_item_once(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    for n in range(5):
        await api_key(db, group, name=f"key {n}")
    headers = await user_headers(db, owner)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(f"/v1/groups/{group.id}/api-keys", params=params, headers=headers)).json()
        seen += [item["name"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"key {n}" for n in range(5)] and pages == 3


async def test_limits_and_bad_cursors_are_refused(client: httpx.AsyncClient, db: AsyncSession) -> None:
    owner = await make_user(db)
    group = await make_group(db, owner=owner)
    headers = await user_headers(db, owner)
    too_big = await client.get(f"/v1/groups/{group.id}/api-keys", params={"limit": 201}, headers=headers)
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "query.limit"
    # garbage; text where a date and a uuid were issued; numbers where text was issued
    numbers = encode_cursor(["2026-11-22T00:00:00+00:00", 5], scope=f"/v1/groups/{group.id}/api-keys")
    not_a_date = encode_cursor(["not-a-date", "not-a-uuid"], scope=f"/v1/groups/{group.id}/api-keys")
    for cursor in ("garbage", "WyJub3QtYS1kYXRlIiwgIm5vdC1hLXV1aWQiXQ", not_a_date, numbers):
        bad = await client.get(f"/v1/groups/{group.id}/api-keys", params={"cursor": cursor}, headers=headers)
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"
