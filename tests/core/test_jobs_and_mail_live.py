"""Outbox -> arq -> worker -> mail, with real commits, real Redis and a real arq worker.

Rules A2 (the verification link arrives and works), X3's outbox principle (after commit only).
"""

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from arq.worker import Worker
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.jobs import enqueue, relay_outbox
from app.worker import deliver_mail
from tests.fixtures.mail import eml_files, read_eml, verification_token

RunWorker = Callable[[], Awaitable[Worker]]


async def wait_relayed(engine: AsyncEngine) -> None:
    # Up to 10 s: the relay runs as a background task, slow on a loaded 2-core machine.
    for _ in range(500):
        async with engine.connect() as conn:
            if not (await conn.execute(text("SELECT count(*) FROM outbox_jobs WHERE relayed_at IS NULL"))).scalar_one():
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox was not relayed")


async def test_signup_to_verified_login_through_the_real_worker(
    live_client: httpx.AsyncClient, engine: AsyncEngine, run_worker: RunWorker
) -> None:
    # rule A2 end to end: the link comes out of an .eml written by the worker
    before = set(eml_files())
    signup = {"email": "lin@example.com", "password": "a long enough password", "first_name": "Lin", "last_name": "Ng"}
    assert (await live_client.post("/v1/auth/signup", json=signup)).status_code == 202
    await wait_relayed(engine)  # the after-commit relay sent the job to Redis
    worker = await run_worker()
    assert worker.jobs_complete >= 1 and worker.jobs_failed == 0
    [new] = set(eml_files()) - before
    message = read_eml(new)
    assert message["To"] == "lin@example.com" and message["X-Caseload-Template"] == "verify_email"
    token = verification_token(message.get_payload(decode=True).decode())
    assert (await live_client.post("/v1/auth/verify-email", json={"token": token})).status_code == 204
    login = await live_client.post("/v1/auth/token", data={"username": "lin@example.com", "password": signup["password"]})
    me = await live_client.get("/v1/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert me.json()["user"]["email_verified"] is True


async def test_jobs_of_a_rolled_back_transaction_are_never_sent(live_app: FastAPI, redis) -> None:
    database = live_app.state.db
    async with database.sessionmaker() as db:
        await enqueue(db, "deliver_mail", "00000000-0000-0000-0000-000000000000", job_id="never-sent")
        await db.flush()
        await db.rollback()
    async with database.sessionmaker() as db:
        assert await relay_outbox(db, redis) == 0
    assert await redis.zcard("arq:queue") == 0


async def test_delivering_twice_sends_once(live_client: httpx.AsyncClient, live_app: FastAPI, engine: AsyncEngine) -> None:
    # jobs are at-least-once: a second delivery of the same message is a no-op
    before = set(eml_files())
    await live_client.post("/v1/auth/signup", json={"email": "twice@example.com", "password": "a long enough password", "first_name": "T", "last_name": "W"})
    async with engine.connect() as conn:
        mail_id = (await conn.execute(text("SELECT id FROM mail_messages"))).scalar_one()
    from app.config import get_settings
    from app.core.mail import mail_backend

    ctx = {"sessionmaker": live_app.state.db.sessionmaker, "mail": mail_backend(get_settings()), "settings": get_settings()}
    results = await asyncio.gather(deliver_mail(ctx, str(mail_id)), deliver_mail(ctx, str(mail_id)))
    assert sorted(results) == [False, True]
    assert len(set(eml_files()) - before) == 1
