"""Staff routes for operating Caseload: the job console (O1) and payouts waiting for staff (P9)."""

import uuid
from typing import Annotated

from fastapi import Path, Query

from app.core.auth import StaffActor
from app.core.db import DB
from app.core.errors import problem_responses
from app.core.idempotency import Idempotent
from app.core.pagination import Page, PageQuery
from app.core.redis import RedisDep
from app.core.routing import STAFF, allowed, router
from app.ops import schemas, service
from app.payouts import schemas as payout_schemas
from app.payouts.service import resume_payout

ops_router = router("/v1/ops", "ops")
READ_ERRORS = problem_responses(401, 403, 404, 422)
CHANGE_ERRORS = problem_responses(401, 403, 404, 409, 422)
JobId = Annotated[str, Path(min_length=1, max_length=200, description="The job's id, as `POST /v1/ops/settlements` answered it or a list shows it.")]


@ops_router.get(
    "/jobs",
    responses=READ_ERRORS,
    response_model=Page[schemas.JobOut],
    summary="List background jobs",
    description=(
        "Every job sent to the workers after a commit (mail, settlement, import analysis and finalize, clean-ups), "
        "newest first, with its state, tries, last error, timings and the request that caused it. Filter with "
        "`state=failed` to find what to replay, and `kind=` (for example `deliver_mail` or `settle`). The workers' "
        "own periodic chores (the hourly settlement, the outbox relay) are not listed."
    ),
    **allowed(STAFF),
)
async def list_jobs(
    staff: StaffActor,
    db: DB,
    page: PageQuery,
    state: Annotated[schemas.JobState | None, Query(description="Only jobs in this state.")] = None,
    kind: Annotated[str | None, Query(max_length=64, description="Only jobs of this kind, e.g. `settle`.")] = None,
) -> Page[schemas.JobOut]:
    jobs, next_cursor = await service.list_jobs(db, page, state=state, kind=kind)
    return Page(items=[schemas.JobOut(**service.job_out(job)) for job in jobs], next_cursor=next_cursor)


@ops_router.get(
    "/jobs/{job_id}",
    responses=READ_ERRORS,
    response_model=schemas.JobOut,
    summary="Read a background job",
    description="One job: its state, tries, last error (type and a sanitized message), timings, progress and result.",
    **allowed(STAFF),
)
async def read_job(job_id: JobId, staff: StaffActor, db: DB) -> schemas.JobOut:
    return schemas.JobOut(**service.job_out(await service.find_job(db, job_id)))


@ops_router.post(
    "/jobs/{job_id}/replay",
    dependencies=[Idempotent],
    responses=CHANGE_ERRORS,
    response_model=schemas.JobOut,
    summary="Replay a failed job",
    description=(
        "Sends a failed job to the workers again under its own id; it answers the job, `queued`. Every job is "
        "idempotent, so running one again does only what is still undone. Only failed jobs can be replayed: any other "
        "state is a 409 `job_not_failed`. Audited."
    ),
    **allowed(STAFF),
)
async def replay_job(job_id: JobId, staff: StaffActor, db: DB, redis: RedisDep) -> schemas.JobOut:
    return schemas.JobOut(**service.job_out(await service.replay_job(db, redis, staff, job_id)))


@ops_router.get(
    "/settlements/{job_id}",
    responses=READ_ERRORS,
    response_model=schemas.SettlementStatus,
    summary="Follow a settlement run",
    description=(
        "The settlement job that `POST /v1/ops/settlements` queued: its state, its progress while it runs (the phase "
        "and how many payouts of it are done) and its result once done (payouts scheduled, transfers sent, paid, "
        "failed, returned, needing attention)."
    ),
    **allowed(STAFF),
)
async def read_settlement(job_id: JobId, staff: StaffActor, db: DB) -> schemas.SettlementStatus:
    job = await service.find_job(db, job_id, kind="settle")
    return schemas.SettlementStatus(
        job_id=job.job_id, state=job.state, progress=job.progress, result=job.result if isinstance(job.result, dict) else None,
        last_error=job.last_error, created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
    )


@ops_router.post(
    "/payouts/{payout_id}/resume",
    dependencies=[Idempotent],
    responses=CHANGE_ERRORS,
    response_model=payout_schemas.PayoutOut,
    summary="Resume a payout that needs attention",
    description=(
        "A payout that failed three times (failed transfers or returns by the bank) stops retrying and waits in "
        "`needs_attention`. Once the practice's bank account is right, this puts it back in line: the next settlement "
        "run sends it, with three more tries. Any other status is a 409 `payout_not_waiting`. Audited."
    ),
    **allowed(STAFF),
)
async def resume(payout_id: uuid.UUID, staff: StaffActor, db: DB) -> payout_schemas.PayoutOut:
    return payout_schemas.PayoutOut.model_validate(await resume_payout(db, staff, payout_id))
