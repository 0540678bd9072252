"""No job lost or stuck (DESIGN.md reliability promises; issue rule X5's outage half).

Real commits, a real arq worker and this test run's own Redis database (flushed here, never another's):
an outbox row is done only once its job has run, the reconciler sends again what Redis lost, and a
job that cannot reach PostgreSQL is retried with backoff rather than failed.
"""

import socket
from collections.abc import Awaitable, Callable

import httpx
from arq import ArqRedis
from arq.worker import Worker
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import get_settings
from app.core.jobs import reconcile_outbox
from app.worker import WorkerSettings
from tests.core.test_jobs_and_mail_live import wait_relayed
from tests.fixtures.mail import eml_files

RunWorker = Callable[[], Awaitable[Worker]]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def signup(client: httpx.AsyncClient, email: str) -> None:
    body = {"email": email, "password": "a long enough password", "first_name": "N", "last_name": "L"}
    assert (await client.post("/v1/auth/signup", json=body)).status_code == 202


async def outbox(engine: AsyncEngine) -> list[tuple[str, bool, bool]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT job_id, relayed_at IS NOT NULL, done_at IS NOT NULL FROM outbox_jobs ORDER BY id"))
        return [tuple(row) for row in rows]


async def test_a_job_redis_lost_is_sent_again_and_runs_once(
    live_client: httpx.AsyncClient, live_app: FastAPI, engine: AsyncEngine, redis: ArqRedis, run_worker: RunWorker
) -> None:
    # DESIGN.md reliability: Redis restarted empty loses no job; the outbox row is done only when the job ran
    before = set(eml_files())
    await signup(live_client, "lost@example.com")
    await wait_relayed(engine)
    [(job_id, relayed, done)] = await outbox(engine)
    assert relayed and not done  # handed to Redis is not done
    await redis.flushdb()  # this run's own Redis database: what a restart without persistence does
    async with live_app.state.db.sessionmaker() as db:
        assert await reconcile_outbox(db, redis, older_than_s=0) == 1
        await db.commit()
    worker = await run_worker()
    assert worker.jobs_complete == 1 and worker.jobs_failed == 0
    assert len(set(eml_files()) - before) == 1
    assert await outbox(engine) == [(job_id, True, True)]
    async with live_app.state.db.sessionmaker() as db:  # done: never sent again
        assert await reconcile_outbox(db, redis, older_than_s=0) == 0


async def test_the_reconciler_leaves_a_job_redis_still_holds(
    live_client: httpx.AsyncClient, live_app: FastAPI, engine: AsyncEngine, redis: ArqRedis, run_worker: RunWorker
) -> None:
    # DESIGN.md reliability: deduplicated by job id: a job still queued is not sent a second time
    before = set(eml_files())
    await signup(live_client, "queued@example.com")
    await wait_relayed(engine)
    async with live_app.state.db.sessionmaker() as db:
        assert await reconcile_outbox(db, redis, older_than_s=0) == 0
        await db.commit()
    assert await redis.zcard("arq:queue") == 1
    await run_worker()
    assert len(set(eml_files()) - before) == 1


async def test_a_job_that_cannot_reach_postgresql_is_retried_then_runs(
    live_client: httpx.AsyncClient, engine: AsyncEngine, redis: ArqRedis
) -> None:
    # DESIGN.md reliability: a job meeting a refused connection is retried with backoff (arq Retry), not failed
    before = set(eml_files())
    await signup(live_client, "retried@example.com")
    await wait_relayed(engine)
    dead = get_settings().model_copy(update={"database_url": f"postgresql://postgres@127.0.0.1:{closed_port()}/x"})

    def worker(settings, **options) -> Worker:  # type: ignore[no-untyped-def]
        return Worker(
            functions=WorkerSettings.functions, on_startup=WorkerSettings.on_startup, on_shutdown=WorkerSettings.on_shutdown,
            redis_pool=redis, burst=True, poll_delay=0.05, handle_signals=False, ctx={"settings": settings},
            max_tries=WorkerSettings.max_tries, **options,
        )

    first = worker(dead, max_burst_jobs=1)
    try:
        await first.main()
    finally:
        await first.close()
    assert first.jobs_retried == 1 and first.jobs_failed == 0
    assert set(eml_files()) == before
    [(job_id, _, done)] = await outbox(engine)
    assert not done
    second = worker(get_settings())  # PostgreSQL is back: the deferred try (2 s later) runs
    try:
        await second.main()
    finally:
        await second.close()
    assert second.jobs_complete == 1 and second.jobs_failed == 0
    assert len(set(eml_files()) - before) == 1
    assert await outbox(engine) == [(job_id, True, True)]
