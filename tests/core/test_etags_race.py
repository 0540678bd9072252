"""Rule X6 under a real race: two writes sent with the same ETag never both succeed.

Apart from test_etags.py: that module holds one open transaction for its world, which would block this
test's cleanup (real commits, then TRUNCATE).
"""

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import tokens


async def test_two_writes_with_the_same_etag_never_both_succeed(live_client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    # rule X6 under a real race (real commits): two people edit the settings they both read
    async with engine.begin() as db:
        owner = (await db.execute(text(
            "INSERT INTO users (id, email, first_name, last_name, email_verified_at) "
            "VALUES (gen_random_uuid(), 'etag-race@example.com', 'Race', 'Owner', now()) RETURNING id"
        ))).scalar_one()
        group = (await db.execute(text("INSERT INTO groups (id, name) VALUES (gen_random_uuid(), 'Race Practice') RETURNING id"))).scalar_one()
        await db.execute(text(
            "INSERT INTO memberships (id, group_id, user_id, is_owner, is_admin) VALUES (gen_random_uuid(), :g, :u, true, true)"
        ), {"g": group, "u": owner})
        secret = tokens.new_secret(tokens.SESSION_PREFIX)
        await db.execute(text(
            "INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) VALUES (gen_random_uuid(), :u, :h, now() + interval '1 hour')"
        ), {"u": owner, "h": tokens.digest(secret)})
    headers = {"Authorization": f"Bearer {secret}"}
    path = f"/v1/groups/{group}/settings"
    etag = (await live_client.get(path, headers=headers)).headers["etag"]
    for round_ in range(3):
        # Every write changes the settings (a write that changes nothing leaves the ETag current, rightly).
        answers = await asyncio.gather(*(
            live_client.patch(path, json={"contact_email": f"desk-{round_}-{n}@example.com"}, headers={**headers, "If-Match": etag})
            for n in range(2)
        ))
        assert sorted(a.status_code for a in answers) == [200, 412], [a.text for a in answers]
        winner = next(a for a in answers if a.status_code == 200)
        loser = next(a for a in answers if a.status_code == 412)
        assert loser.json()["current_etag"] == winner.headers["etag"]
        current = await live_client.get(path, headers=headers)
        assert current.headers["etag"] == winner.headers["etag"]
        assert current.json()["contact_email"] == winner.json()["contact_email"]
        etag = winner.headers["etag"]
