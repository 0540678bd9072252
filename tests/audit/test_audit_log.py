"""The audit log read through the API, its hash chain and its protections: rules R2 and R3."""

import asyncio
import csv
import io
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.audit.chain import verify, verify_chain
from app.models import Group, User
from tests.audit.conftest import add_event
from tests.fixtures.factories import add_member, api_key, bearer, make_group, make_user, user_headers


def url(group: Group) -> str:
    return f"/v1/groups/{group.id}/audit-events"


async def driver(conn: AsyncConnection):  # the test's asyncpg connection (inside its transaction)
    return (await conn.get_raw_connection()).driver_connection


async def test_filters_combine_and_pages_walk_newest_first(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # rule R3: an admin reads the group's log by person, client, action, object and time, in cursor pages
    someone, client_a, client_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    ids = [await add_event(db, group.id, "client.read", actor=someone, target_id=client_a, at=f"2026-11-0{day}T12:00:00Z")
           for day in range(1, 6)]
    doc = await add_event(db, group.id, "document.downloaded", actor=owner.id, target_type="client_document",
                          target_id=uuid.uuid4(), details=f'{{"client_id": "{client_b}"}}', at="2026-11-06T12:00:00Z")
    other = await make_group(db, name="Elsewhere")
    await add_event(db, other.id, "client.read", actor=someone, target_id=client_a, at="2026-11-03T12:00:00Z")
    headers = await user_headers(db, owner)

    async def ids_for(**params: str) -> list[int]:
        response = await client.get(url(group), params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await ids_for(actor_id=str(someone)) == ids[::-1]  # newest first, only this group's
    assert await ids_for(client_id=str(client_a)) == ids[::-1]
    assert await ids_for(client_id=str(client_b)) == [doc]  # an event about a client's document is about the client
    assert await ids_for(action="document.downloaded") == [doc]
    assert await ids_for(target_type="client", target_id=str(client_a), **{"from": "2026-11-02T00:00:00Z", "to": "2026-11-04T00:00:00Z"}) == [ids[2], ids[1]]
    assert await ids_for(actor_id=str(uuid.uuid4())) == []
    seen, cursor = [], None
    while True:
        params = {"actor_id": str(someone), "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url(group), params=params, headers=headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    item = (await client.get(url(group), params={"action": "document.downloaded"}, headers=headers)).json()["items"][0]
    assert item["client_id"] == str(client_b) and item["chain_seq"] >= 1 and len(item["hash"]) == 64
    # reading the log is itself in the log, with the filters used (names only) and the client looked up
    reads = await ids_for(action="audit.read", client_id=str(client_b))
    assert reads, "the read of client B's events is recorded about client B"


async def test_csv_export_streams_every_matching_event(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # rule R3: CSV export, by Accept header or ?format=csv, every matching event (not one page)
    from app.audit import service

    someone = uuid.uuid4()
    for n in range(7):
        await add_event(db, group.id, "session.read", actor=someone, target_type="session", target_id=uuid.uuid4(),
                        at=f"2026-11-01T12:00:0{n}Z")
    await add_event(db, group.id, "client.read", actor=uuid.uuid4(), target_id=uuid.uuid4())
    headers = await user_headers(db, owner)
    old_batch, service.CSV_BATCH = service.CSV_BATCH, 3  # several batches: the export pages through the log itself
    try:
        by_accept = await client.get(url(group), params={"actor_id": str(someone)}, headers={**headers, "Accept": "text/csv"})
        by_format = await client.get(url(group), params={"actor_id": str(someone), "format": "csv"}, headers=headers)
    finally:
        service.CSV_BATCH = old_batch
    for response in (by_accept, by_format):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        assert response.headers["cache-control"] == "no-store"
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 7 and {r["action"] for r in rows} == {"session.read"} and {r["actor_user_id"] for r in rows} == {str(someone)}
        assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)
    exports = (await client.get(url(group), params={"action": "audit.read"}, headers=headers)).json()["items"]
    assert sum(1 for e in exports if e["details"].get("format") == "csv") == 2


async def test_only_admins_and_the_groups_keys_read_it(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # rule R3 (admins read the log), R1: a provider is refused, another group's caller finds nothing
    provider, admin = await make_user(db), await make_user(db)
    await add_member(db, group, provider, provider=True)
    await add_member(db, group, admin, admin=True)
    stranger = await make_user(db)
    await add_member(db, await make_group(db, name="Other"), stranger, admin=True)
    assert (await client.get(url(group), headers=await user_headers(db, admin))).status_code == 200
    assert (await client.get(url(group), headers=bearer(await api_key(db, group)))).status_code == 200
    refused = await client.get(url(group), headers=await user_headers(db, provider))
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert (await client.get(url(group), headers=await user_headers(db, stranger))).status_code == 404


async def test_refused_attempts_are_logged_without_phi(client: httpx.AsyncClient, db: AsyncSession, group: Group, owner: User) -> None:
    # rule R3: a 403 and another group's caller's 404 on the group's objects are recorded (after the rollback)
    provider = await make_user(db)
    await add_member(db, group, provider, provider=True)
    stranger = await make_user(db)
    await add_member(db, await make_group(db, name="Other"), stranger, admin=True)
    client_id = uuid.uuid4()
    assert (await client.get(f"/v1/groups/{group.id}/payouts", headers=await user_headers(db, provider))).status_code == 403
    assert (await client.get(f"/v1/groups/{group.id}/clients/{client_id}", headers=await user_headers(db, stranger))).status_code == 404
    # a made-up group: nothing to record, nothing recorded
    before = await db.scalar(text("SELECT count(*) FROM audit_events"))
    assert (await client.get(f"/v1/groups/{uuid.uuid4()}/clients", headers=await user_headers(db, stranger))).status_code == 404
    assert await db.scalar(text("SELECT count(*) FROM audit_events")) == before
    items = (await client.get(url(group), params={"action": "access.refused"}, headers=await user_headers(db, owner))).json()["items"]
    assert [(i["actor_user_id"], i["outcome"], i["details"]["status"], i["details"]["route"]) for i in items] == [
        (str(stranger.id), "refused", 404, "/v1/groups/{group_id}/clients/{client_id}"),
        (str(provider.id), "refused", 403, "/v1/groups/{group_id}/payouts"),
    ]
    assert items[0]["target_type"] == "client" and items[0]["client_id"] == str(client_id)
    by_client = (await client.get(url(group), params={"client_id": str(client_id)}, headers=await user_headers(db, owner))).json()["items"]
    assert [i["action"] for i in by_client] == ["access.refused"]


async def test_the_chain_detects_an_edited_or_removed_row(db: AsyncSession, conn: AsyncConnection, group: Group) -> None:
    # rule R3: each row is chained to the previous one of its group; the check finds the first broken row
    ids = [await add_event(db, group.id, "client.read", target_id=uuid.uuid4()) for _ in range(4)]
    pg = await driver(conn)
    check = await verify_chain(pg, group.id)
    assert check.ok and check.rows == 4
    seqs = (await db.execute(text("SELECT chain_seq FROM audit_events WHERE group_id = :g ORDER BY id"), {"g": group.id})).scalars().all()
    assert seqs == [1, 2, 3, 4]
    # a superuser switches the append-only trigger off and edits a row: the chain breaks at that row
    await db.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
    await db.execute(text("UPDATE audit_events SET details = '{\"edited\": true}' WHERE id = :id"), {"id": ids[1]})
    check = await verify_chain(pg, group.id)
    assert (check.ok, check.broken_at_id, check.broken_at_seq, check.reason) == (False, ids[1], 2, "content or hash altered")
    # ... or rewrites its hash to match the new content: the next row no longer follows
    await db.execute(text(
        "UPDATE audit_events e SET hash = sha256((SELECT hash FROM audit_events WHERE id = :prev) || audit_event_content(e)) WHERE id = :id"
    ), {"id": ids[1], "prev": ids[0]})
    check = await verify_chain(pg, group.id)
    assert (check.broken_at_id, check.reason) == (ids[2], "content or hash altered")
    # ... or deletes rows: in the middle, or at the end (the chain head remembers the last one)
    await db.execute(text("DELETE FROM audit_events WHERE id = ANY(:ids)"), {"ids": ids[1:3]})
    assert (await verify_chain(pg, group.id)).reason == "a row is missing before this one"
    await db.execute(text("DELETE FROM audit_events WHERE id = ANY(:ids)"), {"ids": ids[1:]})
    assert (await verify_chain(pg, group.id)).reason == "rows are missing at the end of the chain"
    await db.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"))
    others = [c for c in await verify(pg) if c.group_id != group.id]
    assert all(c.ok for c in others)


async def test_update_delete_and_truncate_are_refused(db: AsyncSession, group: Group) -> None:
    # rule R2/R3: the log is append-only, TRUNCATE included
    event = await add_event(db, group.id)
    for statement in ("UPDATE audit_events SET action = 'x' WHERE id = :id", "DELETE FROM audit_events WHERE id = :id",
                      "TRUNCATE audit_events", "TRUNCATE audit_chain_heads CASCADE", "TRUNCATE audit_events CASCADE"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.begin_nested():
                await db.execute(text(statement), {"id": event})


async def test_concurrent_writers_of_one_group_keep_one_valid_chain(engine: AsyncEngine, live_app) -> None:
    # rule R3: two writers inserting into the same group at once still produce one unbroken chain
    group_id = uuid.uuid4()

    async def writer(n: int) -> None:
        for i in range(40):
            async with engine.begin() as c:
                await c.execute(text(
                    "INSERT INTO audit_events (action, target_type, target_id, group_id) VALUES ('client.read', 'client', :t, :g)"
                ), {"t": f"{n}-{i}", "g": group_id})
                await asyncio.sleep(0)  # hold the transaction open across a switch: the writers interleave

    await asyncio.gather(writer(1), writer(2), writer(3))
    async with engine.connect() as c:
        pg = (await c.get_raw_connection()).driver_connection
        async with pg.transaction():
            check = await verify_chain(pg, group_id)
    assert check.ok and check.rows == 120, check
