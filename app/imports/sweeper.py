"""The import sweeper (a worker cron): no import stays queued, analyzing or finalizing for good.

An import's job can vanish (Redis restarted empty), fail for good (its tries used up while the
database was away) or die with its worker (killed, out of memory). The sweeper finds imports whose
job is neither alive nor waiting, sends the job again under a new arq id, and after a few attempts
fails the import with a reason the person can act on.

Alive is read from PostgreSQL, which notices a dead worker's connection at once: an analysis holds
the import's advisory lock, a finalize holds the import row locked in its one transaction. Waiting is
read from Redis: the job's key exists and no worker holds it. A job that has just been sent gets
`STALE_AFTER_S` to show either sign (`heartbeat_at`, also written as an analysis goes).
"""

from typing import Any

import structlog
from arq import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import audit, jobs

log = structlog.get_logger("caseload.imports")
# Longer than the outbox reconciler's 15 s, so a job Redis lost is sent again by one of them, not both.
STALE_AFTER_S = 20
MAX_JOB_ATTEMPTS = 3
SWEEP_BATCH = 100

# Imports in a working state with no sign of life for a while, whose analysis lock nobody holds, and whose
# row no finalize holds (SKIP LOCKED). pg_locks shows a bigint advisory key as two 32-bit halves.
_CANDIDATES = """
SELECT i.id, i.status, i.job_attempts, i.group_id
FROM client_imports i
WHERE i.status IN ('queued', 'analyzing', 'finalizing')
  AND greatest(i.created_at, i.heartbeat_at, i.finalize_requested_at) < now() - make_interval(secs => :stale)
  AND NOT EXISTS (
    SELECT 1 FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND ((l.classid::bigint << 32) | l.objid::bigint) = ('x' || left(replace(i.id::text, '-', ''), 16))::bit(64)::bigint
  )
ORDER BY i.id
LIMIT :batch
FOR UPDATE OF i SKIP LOCKED
"""

_INTERRUPTED = {
    "queued": ("analysis_interrupted", "The file could not be analysed: the work was interrupted {n} times on our side. "
               "Upload the file again; if that fails too, contact support."),
    "analyzing": ("analysis_interrupted", "The file could not be analysed: the work was interrupted {n} times on our side. "
                  "Upload the file again; if that fails too, contact support."),
    "finalizing": ("finalize_interrupted", "Finalizing could not complete: the work was interrupted {n} times on our side, "
                   "and nothing was imported. Upload the file again and finalize it; if that fails too, contact support."),
}


def job_id_for(status: str, import_id: Any, attempt: int) -> str:
    """The arq id of an import's current job: the first is the one the API sent, then one per attempt."""
    function = "finalize_import" if status == "finalizing" else "analyze_import"
    return f"{function}:{import_id}" if attempt == 0 else f"{function}:{import_id}:{attempt}"


async def sweep_imports(db: AsyncSession, redis: ArqRedis, *, stale_after_s: float = STALE_AFTER_S) -> dict[str, int]:
    """Send again or fail the imports whose job is gone; the caller commits. Returns what was done."""
    rows = (await db.execute(text(_CANDIDATES), {"stale": stale_after_s, "batch": SWEEP_BATCH})).all()
    if not rows:
        return {"sent_again": 0, "failed": 0}
    job_ids = [job_id_for(row.status, row.id, row.job_attempts) for row in rows]
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(job_key_prefix + job_id)
            pipe.exists(in_progress_key_prefix + job_id)
        found = await pipe.execute()
    sent = failed = 0
    for i, row in enumerate(rows):
        queued, in_progress = found[2 * i], found[2 * i + 1]
        if queued and not in_progress:
            continue  # waiting its turn (or deferred for a retry): not stuck
        if row.job_attempts >= MAX_JOB_ATTEMPTS:
            code, detail = _INTERRUPTED[row.status]
            await _fail(db, row, code, detail.format(n=row.job_attempts + 1))
            failed += 1
            continue
        attempt = row.job_attempts + 1
        await db.execute(
            text("UPDATE client_imports SET job_attempts = :attempt, heartbeat_at = now() WHERE id = :id"),
            {"attempt": attempt, "id": row.id},
        )
        function = "finalize_import" if row.status == "finalizing" else "analyze_import"
        await jobs.enqueue(db, function, str(row.id), job_id=job_id_for(row.status, row.id, attempt))
        log.warning("import_job_sent_again", import_id=str(row.id), status=row.status, attempt=attempt)
        sent += 1
    return {"sent_again": sent, "failed": failed}


async def _fail(db: AsyncSession, row: Any, code: str, detail: str) -> None:
    await db.execute(
        text(
            "UPDATE client_imports SET status = 'failed', failure_code = :code, failure_detail = :detail, "
            "password_encrypted = NULL, analyzed_at = coalesce(analyzed_at, now()) WHERE id = :id"
        ),
        {"code": code, "detail": detail, "id": row.id},
    )
    await audit.record(db, None, "import.analysis_failed" if row.status != "finalizing" else "import.finalize_failed",
                       target_type="client_import", target_id=row.id, group_id=row.group_id, outcome="failure", code=code)
    log.error("import_interrupted", import_id=str(row.id), status=row.status, code=code)
