"""S2 under a real race: concurrent bookings through the real app, with committed data."""

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.clients.service import enroll
from app.memberships.service import make_provider
from app.models import User
from tests.fixtures.factories import make_group, make_user, session_token
from tests.sessions.conftest import book, make_client
from tests.sessions.test_booking import SLOT


async def test_two_concurrent_bookings_of_one_slot(live_client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    # rule S2: the database refuses the second, whichever request gets there first
    async with AsyncSession(engine, expire_on_commit=False) as db:
        group = await make_group(db, name="Race Practice")
        provider = await make_user(db)
        await make_provider(db, group, provider, "LPC")
        clients = [await make_client(db, group, provider, name=f"C{i}") for i in range(2)]
        token = await session_token(db, provider)
        await db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    starts_at = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    responses = await asyncio.gather(*(
        live_client.post(f"/v1/groups/{group.id}/sessions", headers=headers, json={
            "client_id": str(c.id), "starts_at": starts_at.isoformat(), "duration_minutes": 50, "telehealth": True,
        })
        for c in clients
    ))
    assert sorted(r.status_code for r in responses) == [201, 409], [r.text for r in responses]
    [winner] = [r.json() for r in responses if r.status_code == 201]
    [loser] = [r.json() for r in responses if r.status_code == 409]
    assert loser["code"] == "session_conflict" and [c["session_id"] for c in loser["conflicts"]] == [winner["id"]]
    async with engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM sessions WHERE group_id = :g"), {"g": group.id})).scalar_one()
    assert count == 1


async def test_a_booking_aborted_as_a_deadlock_is_tried_again(
    client: httpx.AsyncClient, db: AsyncSession, group, provider, client_record, frozen, as_user,
) -> None:
    # rule S2: two overlapping bookings (one client, two providers) each pass one exclusion constraint
    # and wait on the other's row in the second, so PostgreSQL aborts one with deadlock_detected. The
    # abort is made to happen here, once, by a trigger in the test's own (rolled back) transaction.
    # A sequence counts the attempts: unlike a table, it is not rolled back with the savepoint.
    await db.execute(text("CREATE TEMP SEQUENCE booking_attempts"))
    await db.execute(text("""
        CREATE FUNCTION pg_temp.abort_first() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF nextval('booking_attempts') = 1 THEN
                RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
            END IF;
            RETURN NEW;
        END $$"""))
    await db.execute(text("CREATE TRIGGER abort_first BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION pg_temp.abort_first()"))
    response = await book(client, group, await as_user(provider), client_record, SLOT)
    assert response.status_code == 201, response.text
    assert (await db.execute(text("SELECT currval('booking_attempts')"))).scalar_one() == 2
    assert (await db.execute(text("SELECT count(*) FROM sessions WHERE group_id = :g"), {"g": group.id})).scalar_one() == 1


async def test_crossed_concurrent_bookings_answer_201_or_409_never_500(
    live_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    # rule S2, S7: four providers each booking each of four shared clients at one time, sixteen at once, six
    # times: crossed bookings wait on each other's exclusion checks (provider, client record, person); before
    # they took turns on the calendars' locks some were aborted as deadlocks and answered 500.
    async with AsyncSession(engine, expire_on_commit=False) as db:
        group = await make_group(db, name="Crossed Practice")
        providers = [await make_user(db) for _ in range(4)]
        for provider in providers:
            await make_provider(db, group, provider, "LPC")
        clients = [await make_client(db, group, providers[0], name=f"X{i}") for i in range(4)]
        for client in clients:
            person = await db.get(User, client.user_id)
            for provider in providers[1:]:
                await enroll(db, group_id=group.id, user=person, provider_user_id=provider.id, billing_type="private_pay",
                             added_by=provider.id)
        tokens = {p.id: await session_token(db, p) for p in providers}
        await db.commit()
    statuses = []
    for day in range(3, 9):
        starts_at = (datetime.now(UTC) + timedelta(days=day)).replace(microsecond=0)
        responses = await asyncio.gather(*(
            live_client.post(f"/v1/groups/{group.id}/sessions", headers={"Authorization": f"Bearer {tokens[p.id]}"}, json={
                "client_id": str(c.id), "starts_at": starts_at.isoformat(), "duration_minutes": 50, "telehealth": True,
            })
            for p in providers for c in clients
        ))
        statuses += [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    async with engine.connect() as conn:
        booked = (await conn.execute(text("SELECT count(*) FROM sessions WHERE group_id = :g"), {"g": group.id})).scalar_one()
        overlaps = (await conn.execute(text("""
            SELECT count(*) FROM sessions a JOIN sessions b ON a.id < b.id AND a.group_id = b.group_id
               AND (a.provider_user_id = b.provider_user_id OR a.client_id = b.client_id)
               AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
             WHERE a.group_id = :g"""), {"g": group.id})).scalar_one()
    assert booked == statuses.count(201) >= 3 and overlaps == 0
