"""The job console (O1): staff read what runs in the background and replay a failed job."""

from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit
from app.core.auth import Actor
from app.core.errors import conflict, not_found
from app.core.job_console import forget_result
from app.core.pagination import PageParams, paginate
from app.models import OutboxJob


async def list_jobs(db: AsyncSession, page: PageParams, *, state: str | None, kind: str | None) -> tuple[list[OutboxJob], str | None]:
    stmt = select(OutboxJob)
    if state:
        stmt = stmt.where(OutboxJob.state == state)
    if kind:
        stmt = stmt.where(OutboxJob.function == kind)
    return await paginate(db, stmt, page, keys=(OutboxJob.id,), descending=True)


async def find_job(db: AsyncSession, job_id: str, *, kind: str | None = None) -> OutboxJob:
    """The latest outbox row under this job id (a job id is reused only by a replay of the same row)."""
    stmt = select(OutboxJob).where(OutboxJob.job_id == job_id).order_by(OutboxJob.id.desc()).limit(1)
    job = await db.scalar(stmt)
    if job is None or (kind is not None and job.function != kind):
        raise not_found("job")
    return job


async def replay_job(db: AsyncSession, redis: Redis, staff: Actor, job_id: str) -> OutboxJob:
    """Send a failed job to the workers again, under its own id: safe because every job is idempotent."""
    job = await find_job(db, job_id)
    replayed = await db.scalar(
        update(OutboxJob)
        .where(OutboxJob.id == job.id, OutboxJob.state == "failed")
        .values(state="queued", relayed_at=None, relays=0, finished_at=None, progress=None)
        .returning(OutboxJob.id)
        .execution_options(synchronize_session=False)
    )
    if replayed is None:
        raise conflict(
            "job_not_failed",
            f"Only a failed job can be replayed; this one is {job.state}. Wait for it to finish, or list the failed "
            "ones with GET /v1/ops/jobs?state=failed.",
            job_state=job.state,
        )
    await forget_result(redis, job.job_id)
    db.info["outbox_pending"] = True  # the relay sends it once this commits
    await audit.record(db, staff, "job.replayed", target_type="job", target_id=job.job_id, kind=job.function)
    await db.refresh(job)
    return job


def job_out(job: OutboxJob) -> dict[str, Any]:
    return {
        "job_id": job.job_id, "kind": job.function, "state": job.state, "tries": job.tries,
        "last_error": job.last_error, "request_id": job.request_id, "created_at": job.created_at,
        "started_at": job.started_at, "finished_at": job.finished_at, "progress": job.progress, "result": job.result,
    }
