"""Background jobs: written to an outbox in the request's transaction, sent to arq after commit.

A job is never sent for a rolled-back change, and never lost: the relay sends what is committed and
not yet relayed, right after each commit and every few seconds from the worker; a row is done only
once its job has run (the worker marks it), and the reconciler sends again, under the same arq job
id, what Redis no longer knows (a Redis restarted empty, flushed, or failed over). Jobs are
idempotent, so a job sent twice is harmless. Arguments are ids, never PHI. arq stays behind this
module and `app/worker.py`.
"""

import asyncio
import uuid
from typing import Any

import structlog
from arq import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from sqlalchemy import func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.functions import now

from app.models import OutboxJob

log = structlog.get_logger("caseload.jobs")
RELAY_BATCH = 500
# A relayed job not done after this long is looked up in Redis; one Redis no longer knows is sent again.
RECONCILE_AFTER_S = 15
# A job sent again this many times without ever running to its end is given up on (and logged).
MAX_RELAYS = 10


async def enqueue(db: AsyncSession, function: str, *args: str | int, job_id: str | None = None) -> None:
    """Send `function(*args)` to the workers once this transaction commits.

    A deterministic `job_id` dedupes the job while arq keeps its result; jobs must be idempotent anyway.
    """
    # The request that caused it (or, for a job enqueued by a job, that job's originating request): job log lines carry it.
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    db.add(OutboxJob(function=function, args=list(args), job_id=job_id or f"{function}:{uuid.uuid4().hex}", request_id=request_id))
    db.info["outbox_pending"] = True


async def relay_outbox(db: AsyncSession, redis: ArqRedis) -> int:
    """Send committed, unrelayed outbox jobs to arq; the caller commits. Safe in many processes at once."""
    rows = (
        await db.execute(
            select(OutboxJob.id, OutboxJob.function, OutboxJob.args, OutboxJob.job_id)
            .where(OutboxJob.relayed_at.is_(None))
            .order_by(OutboxJob.id)
            .limit(RELAY_BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        await redis.enqueue_job(row.function, *row.args, _job_id=row.job_id)
    if rows:
        await db.execute(
            update(OutboxJob).where(OutboxJob.id.in_([row.id for row in rows])).values(relayed_at=now())
        )
    return len(rows)


class OutboxRelay:
    """Runs `relay_outbox` in the background of the API process after commits, one run at a time."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], redis: ArqRedis):
        self._sessionmaker = sessionmaker
        self._redis = redis
        self._task: asyncio.Task[Any] | None = None
        self._again = False

    def kick(self) -> None:
        if self._task is not None and not self._task.done():
            self._again = True  # a commit landed while relaying: run once more when done
            return
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                async with self._sessionmaker() as db:
                    while await relay_outbox(db, self._redis) == RELAY_BATCH:
                        await db.commit()
                    await db.commit()
            except Exception as exc:  # Redis or the database away: the worker's periodic relay catches up
                log.warning("outbox_relay_failed", error_type=type(exc).__name__)
                return
            if not self._again:
                return

    async def drain(self) -> None:
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)


async def mark_done(db: AsyncSession, job_id: str, result: Any = None) -> None:
    """The job with this arq id has run: its outbox row is done (with its answer, JSON). The caller commits."""
    await db.execute(
        update(OutboxJob)
        .where(OutboxJob.job_id == job_id, OutboxJob.done_at.is_(None))
        .values(done_at=now(), state="done", finished_at=now(), last_error=None,
                result=result if result is not None else null())
    )


async def reconcile_outbox(db: AsyncSession, redis: ArqRedis, *, older_than_s: float = RECONCILE_AFTER_S) -> int:
    """Send again the relayed jobs that have not run and that Redis no longer knows; the caller commits.

    Redis "knows" a job while it is queued, deferred or running (its job key) and for a while after it
    ended (its result key): those are left alone, and arq refuses a second job under the same id anyway,
    so nothing runs twice because of this. Returns how many jobs were sent again.
    """
    rows = (
        await db.execute(
            select(OutboxJob.id, OutboxJob.function, OutboxJob.args, OutboxJob.job_id, OutboxJob.relays)
            .where(
                OutboxJob.relayed_at < now() - func.make_interval(0, 0, 0, 0, 0, 0, older_than_s),
                OutboxJob.done_at.is_(None),
                OutboxJob.relays < MAX_RELAYS,
                # A failed job waits for staff to replay it (O1), not for the reconciler.
                OutboxJob.state != "failed",
            )
            .order_by(OutboxJob.relayed_at)
            .limit(RELAY_BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not rows:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for row in rows:
            pipe.exists(job_key_prefix + row.job_id, result_key_prefix + row.job_id)
        known = await pipe.execute()
    lost = [row for row, count in zip(rows, known) if not count]
    for row in lost:
        await redis.enqueue_job(row.function, *row.args, _job_id=row.job_id)
        if row.relays + 1 == MAX_RELAYS:
            log.error("outbox_job_given_up", job_id=row.job_id, function=row.function)
    # Each row looked at waits another period before the next look.
    await db.execute(update(OutboxJob).where(OutboxJob.id.in_([row.id for row in rows])).values(relayed_at=now()))
    if lost:
        await db.execute(
            update(OutboxJob).where(OutboxJob.id.in_([row.id for row in lost])).values(relays=OutboxJob.relays + 1)
        )
        log.warning("outbox_jobs_sent_again", count=len(lost))
    return len(lost)
