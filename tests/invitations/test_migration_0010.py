"""Revision 0010 keeps today's data (rules C8, A10): a person's earliest client record stays consented, a later
one (a practice typed an email that had an account) waits for the person, and insurance a practice typed
becomes that practice's own copy."""

import asyncio
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.db import sqlalchemy_url
from tests.fixtures.database import drop_database, recreate_database, run_migrations
from tests.fixtures.services import TEST_DATABASE


async def test_0010_keeps_what_each_practice_typed() -> None:
    name = f"{TEST_DATABASE}_m0010"
    url = await recreate_database(name)
    await asyncio.to_thread(run_migrations, url, "0007")
    engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
    person, typed_by_a, own = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    group_a, group_b, client_a, client_b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        for user, email in ((person, "p@example.com"), (typed_by_a, "t@example.com"), (own, "o@example.com")):
            await conn.execute(text("INSERT INTO users (id, email, first_name, last_name) VALUES (:id, :e, 'F', 'L')"), {"id": user, "e": email})
        for group, group_name in ((group_a, "A"), (group_b, "B")):
            await conn.execute(text("INSERT INTO groups (id, name) VALUES (:id, :n)"), {"id": group, "n": group_name})
        await conn.execute(text(
            "INSERT INTO clients (id, group_id, user_id, first_name, last_name, email, billing_type, created_at) VALUES "
            "(:ca, :ga, :p, 'F', 'L', 'p@example.com', 'insurance', now() - interval '2 days'),"
            "(:cb, :gb, :p, 'F', 'L', 'p@example.com', 'insurance', now() - interval '1 day')"
        ), {"ca": client_a, "cb": client_b, "ga": group_a, "gb": group_b, "p": person})
        # Practice A typed the person's insurance when it added them (one request); another person's is their own.
        await conn.execute(text(
            "INSERT INTO insurance_policies (user_id, company, member_id_encrypted, member_id_last4) VALUES "
            "(:p, 'Typed By A', '\\x00', '1111'), (:o, 'Their Own', '\\x00', '2222')"
        ), {"p": person, "o": own})
        await conn.execute(text(
            "INSERT INTO audit_events (request_id, action, target_type, target_id, group_id) VALUES "
            "('r1', 'client.roster_added', 'client', :ca, :ga), ('r1', 'insurance.entered_by_practice', 'insurance_policy', :p, NULL)"
        ), {"ca": str(client_a), "ga": group_a, "p": str(person)})
    await asyncio.to_thread(run_migrations, url, "0010")
    async with engine.connect() as conn:
        consent = dict((await conn.execute(text("SELECT id, consented_at IS NOT NULL FROM clients"))).all())
        assert consent == {client_a: True, client_b: False}
        invitations = (await conn.execute(text("SELECT client_id, status, kind FROM invitations"))).all()
        assert invitations == [(client_b, "pending", "client")]
        copies = (await conn.execute(text("SELECT client_id, company FROM practice_insurance_policies"))).all()
        assert copies == [(client_a, "Typed By A")]
        assert (await conn.execute(text("SELECT company FROM insurance_policies"))).scalars().all() == ["Their Own"]
    await engine.dispose()
    await drop_database(name)
