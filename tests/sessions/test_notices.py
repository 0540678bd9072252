"""Mail about sessions: rule S12."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from arq import ArqRedis
from arq.worker import Worker
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.clients.service import enroll
from app.config import get_settings
from app.core.db import Base
from app.core.redis import connect
from app.memberships.service import make_provider
from app.models import Client, Group, MailMessage, TherapySession, User
from app.sessions.notices import compose, when
from app.worker import WorkerSettings
from tests.fixtures.factories import make_group, make_user
from tests.fixtures.mail import mails_to
from tests.sessions.conftest import Clock, at, book, sessions_url


async def test_the_client_is_mailed_on_booking_move_and_cancellation(
    client: httpx.AsyncClient, db: AsyncSession, group: Group, provider: User, client_record: Client, frozen: Clock, as_user
) -> None:
    # rule S12: times in the group's zone, no codes
    person = await db.get(User, client_record.user_id)
    headers = await as_user(provider)
    booked = (await book(client, group, headers, client_record, at("2027-03-11T10:00:00-05:00"))).json()
    moved = await client.patch(sessions_url(group, booked["id"]), json={"starts_at": "2027-03-15T09:30:00-04:00"}, headers=headers)
    assert moved.status_code == 200
    await client.post(sessions_url(group, booked["id"], "cancel"), json={"by": "provider"}, headers=headers)
    mails = await mails_to(db, person.email)
    assert [m.template for m in mails] == ["session_booked", "session_moved", "session_cancelled"]
    assert "Thursday, March 11, 2027 at 10:00 AM EST" in mails[0].body_text
    assert "Monday, March 15, 2027 at 9:30 AM EDT" in mails[1].body_text and "it was Thursday, March 11" in mails[1].body_text
    assert all("Sessions Practice" in m.body_text for m in mails)
    # a series is one mail listing its dates
    series = await client.post(sessions_url(group, "series"), headers=headers, json={
        "client_id": str(client_record.id), "starts_at": "2027-04-01T10:00:00-04:00", "telehealth": True,
        "repeat": {"every_weeks": 1, "count": 3}})
    assert series.status_code == 201
    last = (await mails_to(db, person.email))[-1]
    assert last.template == "session_booked" and last.body_text.count("  - ") == 3


def test_a_mail_names_no_diagnosis_or_code() -> None:
    # rule S12: composed from what a client may read; a confirmed session's codes are not among its facts
    row = type("Row", (), dict(starts_at=datetime(2027, 11, 7, 15, 0, tzinfo=UTC), time_zone="America/Chicago",
                               duration_minutes=50, kind="therapy", telehealth=True, practice="Harbor", provider="Sam Okafor",
                               first_name="Casey", late_cancellation_fee_cents=7500, label=None, address_line1=None,
                               city=None, state=None))
    for kind in ("booked", "moved", "cancelled", "reminder"):
        subject, body = compose(kind, [row])
        assert "F41" not in body and "90837" not in body and "diagnos" not in body.lower()
    assert "$75.00" in compose("cancelled", [row])[1]
    assert when(row.starts_at, "America/Chicago") == "Sunday, November 7, 2027 at 9:00 AM CST"


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    yield async_sessionmaker(engine, expire_on_commit=False)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))  # the audit log refuses TRUNCATE (R3)
        await conn.execute(text(f"TRUNCATE {tables} CASCADE"))


async def burst_worker() -> None:
    """A real arq worker with its own Redis pool, run until the queue is empty."""
    worker = Worker(
        functions=WorkerSettings.functions, on_startup=WorkerSettings.on_startup, on_shutdown=WorkerSettings.on_shutdown,
        redis_pool=await connect(get_settings().redis_url or ""), burst=True, poll_delay=0.05,
        handle_signals=False, ctx={"settings": get_settings()},
    )
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_a_reminder_is_sent_once_by_two_workers_and_a_rerun(
    committed: async_sessionmaker[AsyncSession], redis: ArqRedis
) -> None:
    # rule S12: 24 hours before by default; exactly once per session; a client may opt out
    now = datetime.now(UTC).replace(microsecond=0)
    async with committed() as db:
        group = await make_group(db, name="Reminding Practice", time_zone="America/Denver")
        provider = await make_user(db, first_name="Pat", last_name="Provider")
        await make_provider(db, group, provider, "LPC")
        people = [await make_user(db, first_name=n, last_name="Client") for n in ("Due", "Later", "Quiet")]
        people[2].session_reminders = False
        records = [(await enroll(db, group_id=group.id, user=p, provider_user_id=provider.id, added_by=provider.id))[0]
                   for p in people]
        for record, hours in zip(records, (20, 30, 21)):
            starts = now + timedelta(hours=hours)
            db.add(TherapySession(id=uuid.uuid4(), group_id=group.id, provider_user_id=provider.id, client_id=record.id,
                                  kind="therapy", starts_at=starts, duration_minutes=50, ends_at=starts + timedelta(minutes=50),
                                  telehealth=True, status="scheduled"))
        await db.commit()
    await redis.enqueue_job("remind_sessions", _job_id="remind-a")
    await redis.enqueue_job("remind_sessions", _job_id="remind-b")
    await asyncio.gather(burst_worker(), burst_worker())
    await redis.enqueue_job("remind_sessions", _job_id="remind-rerun")
    await burst_worker()
    async with committed() as db:
        reminders = list(await db.scalars(select(MailMessage).where(MailMessage.template == "session_reminder")))
        assert [m.to_address for m in reminders] == [people[0].email]
        assert "Reminder" in reminders[0].subject and ("MST" in reminders[0].body_text or "MDT" in reminders[0].body_text)
        notices = await db.scalar(text("SELECT count(*) FROM session_notices WHERE kind = 'reminder'"))
        assert notices == 1
