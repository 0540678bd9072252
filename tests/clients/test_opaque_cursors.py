"""Cursors are opaque (rule R4): sealed with the app's key, bound to the list that issued them, expiring."""

import base64
from datetime import timedelta

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import clock
from app.core.pagination import CURSOR_TTL_SECONDS
from app.models import Group, User
from tests.clients.test_roster_list import add, every_page
from tests.fixtures.factories import add_member, make_group, user_headers

NAMES = [("Zebulon", "Quixotic"), ("Yolanda", "Quixotic"), ("Xavier", "Quenneville")]


def _unsealed_bytes(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


async def test_cursors_carry_no_name_and_still_walk_the_roster(client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User) -> None:
    # rule R4: the roster is ordered by name, yet no name (nor its lowercase sort key) travels in the URL
    for first, last in NAMES:
        await add(client, db, group, provider, first_name=first, last_name=last, email=f"{first.lower()}@example.com")
    headers = await user_headers(db, provider)
    url = f"/v1/groups/{group.id}/clients"
    cursors, cursor = [], None
    while True:
        page = (await client.get(url, params={"limit": 1, **({"cursor": cursor} if cursor else {})}, headers=headers)).json()
        if not (cursor := page["next_cursor"]):
            break
        cursors.append(cursor)
    assert len(cursors) == 2
    for cursor in cursors:
        for first, last in NAMES:
            for word in (first, last, first.lower(), last.lower()):
                assert word not in cursor and word.encode() not in _unsealed_bytes(cursor)
    names = [(c["first_name"], c["last_name"]) for c in await every_page(client, url, headers, 1)]
    assert names == sorted(NAMES, key=lambda n: (n[1].lower(), n[0].lower()))


async def test_tampered_foreign_and_expired_cursors_are_refused(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rule R4: a cursor is a 422 invalid_cursor when edited, forged, from another list or group, or expired
    for first, last in NAMES:
        await add(client, db, group, provider, first_name=first, last_name=last, email=f"{first.lower()}@example.com")
    other = await make_group(db, name="Second Practice")
    await add_member(db, other, provider, provider=True)
    headers = await user_headers(db, provider)
    url = f"/v1/groups/{group.id}/clients"
    cursor = (await client.get(url, params={"limit": 1}, headers=headers)).json()["next_cursor"]
    assert (await client.get(url, params={"limit": 1, "cursor": cursor}, headers=headers)).status_code == 200

    async def refused(path: str, bad: str, message: str = "unknown cursor") -> None:
        response = await client.get(path, params={"limit": 1, "cursor": bad}, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_cursor" and response.json()["errors"][0]["message"] == message

    raw = bytearray(_unsealed_bytes(cursor))
    raw[-1] ^= 1  # one bit of the seal
    await refused(url, base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="))
    raw = bytearray(_unsealed_bytes(cursor))
    raw[20] ^= 1  # one bit of the sealed key
    await refused(url, base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="))
    await refused(url, base64.urlsafe_b64encode(orjson.dumps(["quixotic", "yolanda", str(group.id)])).decode())  # yesterday's plain form
    await refused(url, cursor[:-4])
    await refused(f"/v1/groups/{other.id}/clients", cursor)  # another group's list
    await refused(f"/v1/groups/{group.id}/sessions", cursor)  # another list of the same group
    later = clock.now() + timedelta(seconds=CURSOR_TTL_SECONDS + 60)
    monkeypatch.setattr(clock, "now", lambda: later)
    await refused(url, cursor, "expired cursor")
