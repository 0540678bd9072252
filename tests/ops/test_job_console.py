"""The job console through a real arq worker, real PostgreSQL and Redis: rule O1."""

import asyncio
import json
from typing import Any

import httpx
import pytest
from arq import ArqRedis
from arq.worker import Worker, func
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import get_settings
from app.core.jobs import enqueue
from app.models import OutboxJob
from app.worker import WorkerSettings, tracked
from tests.fixtures.factories import make_user, user_headers

FAIL_FLAG = "test:flaky:fail"
RUNS = "test:flaky:runs"


async def flaky(ctx: dict[str, Any], label: str) -> dict[str, str]:
    """Fails while the flag is set, with a message that holds what must never reach the console."""
    await ctx["redis"].incr(RUNS)
    if await ctx["redis"].exists(FAIL_FLAG):
        raise RuntimeError("could not reach jane.doe@example.com about account 123456789: 'Jane Doe'")
    return {"label": label}


async def run_worker(redis: ArqRedis) -> Worker:
    worker = Worker(
        functions=[*WorkerSettings.functions, func(tracked(flaky), name="flaky")],
        on_startup=WorkerSettings.on_startup, on_shutdown=WorkerSettings.on_shutdown, redis_pool=redis,
        burst=True, poll_delay=0.05, handle_signals=False, ctx={"settings": get_settings()},
    )
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker


async def relayed(engine: AsyncEngine) -> None:
    for _ in range(500):  # up to 10 s on a loaded machine
        async with engine.connect() as conn:
            if not (await conn.execute(text("SELECT count(*) FROM outbox_jobs WHERE relayed_at IS NULL"))).scalar_one():
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox was not relayed")


async def staff_headers(live_app: FastAPI) -> dict[str, str]:
    async with live_app.state.db.sessionmaker() as db:
        headers = await user_headers(db, await make_user(db, is_staff=True))
        await db.commit()
    return headers


async def test_a_failing_job_shows_failed_and_a_replay_runs_it_once(
    live_app: FastAPI, live_client: httpx.AsyncClient, engine: AsyncEngine, redis: ArqRedis, capfd: pytest.CaptureFixture[str]
) -> None:
    # rule O1: queued -> failed with tries and a sanitized last error; staff replay it; it runs once more, done
    staff = await staff_headers(live_app)
    await redis.set(FAIL_FLAG, 1)
    async with live_app.state.db.sessionmaker() as db:
        await enqueue(db, "flaky", "first", job_id="flaky:console")
        await db.commit()
    live_app.state.outbox_relay.kick()
    await relayed(engine)
    queued = (await live_client.get("/v1/ops/jobs/flaky:console", headers=staff)).json()
    assert (queued["state"], queued["tries"], queued["kind"]) == ("queued", 0, "flaky")

    capfd.readouterr()
    await run_worker(redis)
    logs = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    failed = (await live_client.get("/v1/ops/jobs/flaky:console", headers=staff)).json()
    assert (failed["state"], failed["tries"]) == ("failed", 1)
    assert failed["last_error"].startswith("RuntimeError: could not reach")
    for secret in ("jane", "Jane", "123456789", "example.com"):
        assert secret not in failed["last_error"]
    assert failed["started_at"] and failed["finished_at"]
    [line] = [entry for entry in logs if entry["event"] == "job_failed"]
    assert (line["job_id"], line["job_try"], line["request_id"]) == ("flaky:console", 1, None)  # not from a request
    listed = (await live_client.get("/v1/ops/jobs", params={"state": "failed", "kind": "flaky"}, headers=staff)).json()
    assert [job["job_id"] for job in listed["items"]] == ["flaky:console"]

    # The reconciler leaves a failed job alone: only a person replays it.
    await redis.delete(FAIL_FLAG)
    replay = await live_client.post("/v1/ops/jobs/flaky:console/replay", headers=staff)
    assert replay.status_code == 200 and replay.json()["state"] == "queued"
    await relayed(engine)
    await run_worker(redis)
    done = (await live_client.get("/v1/ops/jobs/flaky:console", headers=staff)).json()
    assert (done["state"], done["tries"], done["last_error"], done["result"]) == ("done", 1, None, {"label": "first"})
    await run_worker(redis)
    assert int(await redis.get(RUNS)) == 2  # once failing, once replayed: never again
    again = await live_client.post("/v1/ops/jobs/flaky:console/replay", headers=staff)
    assert again.status_code == 409 and again.json()["code"] == "job_not_failed"
    await redis.delete(RUNS)


async def test_a_settlement_reports_its_state_progress_and_result(
    live_app: FastAPI, live_client: httpx.AsyncClient, engine: AsyncEngine, redis: ArqRedis
) -> None:
    # rule O1: POST /v1/ops/settlements answers a job id that can be followed to its result
    staff = await staff_headers(live_app)
    queued = await live_client.post("/v1/ops/settlements", headers={**staff, "X-Request-ID": "req-settle-console-1"})
    job_id = queued.json()["job_id"]
    before = (await live_client.get(f"/v1/ops/settlements/{job_id}", headers=staff)).json()
    assert (before["state"], before["result"]) == ("queued", None)
    await relayed(engine)
    await run_worker(redis)
    after = (await live_client.get(f"/v1/ops/settlements/{job_id}", headers=staff)).json()
    assert after["state"] == "done" and after["progress"] == {"phase": "done"}
    assert after["result"]["payouts_scheduled"] == 0 and "timings" in after["result"]
    job = (await live_client.get(f"/v1/ops/jobs/{job_id}", headers=staff)).json()
    assert job["request_id"] == "req-settle-console-1"
    async with live_app.state.db.sessionmaker() as db:
        assert (await db.scalar(select(OutboxJob.tries).where(OutboxJob.job_id == job_id))) == 1
    # Another kind of job is not a settlement; neither is an unknown id.
    assert (await live_client.get("/v1/ops/settlements/mail:nothing", headers=staff)).status_code == 404


async def test_only_staff_see_the_console(live_app: FastAPI, live_client: httpx.AsyncClient) -> None:
    # rule O1: staff only
    async with live_app.state.db.sessionmaker() as db:
        person = await user_headers(db, await make_user(db))
        await db.commit()
    assert (await live_client.get("/v1/ops/jobs", headers=person)).status_code == 403
    assert (await live_client.get("/v1/ops/jobs")).status_code == 401
