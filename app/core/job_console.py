"""The job console's bookkeeping (O1): what the worker made of each outbox job.

One small UPDATE per transition, by the job's arq id: running (with the try), retrying or failed (with
the last error), done (with its result), and progress while a long job runs. A failure of this
bookkeeping never fails the job: the console is for people, the job's own work is what counts.
Errors are recorded as the exception's class and a sanitized message: never PHI.
"""

import re
from typing import Any

import orjson
import structlog
from arq.constants import result_key_prefix
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = structlog.get_logger("caseload.jobs")

_QUOTED = re.compile(r"""(['"]).*?\1""")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
_NUMBERS = re.compile(r"\d{4,}")


def sanitize_error(exc: BaseException) -> str:
    """`ClassName: message` with what could be data taken out: database details, quoted values, email
    addresses and long numbers; at most 300 characters."""
    message = str(exc).split("DETAIL:", 1)[0]
    message = _NUMBERS.sub("#", _EMAIL.sub("<email>", _QUOTED.sub("'…'", message)))
    message = " ".join(message.split())[:300]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


_RUNNING = """
UPDATE outbox_jobs SET state = 'running', tries = :try, started_at = now(), finished_at = NULL
 WHERE id = (SELECT id FROM outbox_jobs WHERE job_id = :job_id ORDER BY id DESC LIMIT 1)
RETURNING request_id
"""
_ENDED = """
UPDATE outbox_jobs SET state = :state, last_error = :error, finished_at = now()
 WHERE id = (SELECT id FROM outbox_jobs WHERE job_id = :job_id ORDER BY id DESC LIMIT 1)
"""
_PROGRESS = """
UPDATE outbox_jobs SET progress = CAST(:progress AS jsonb)
 WHERE id = (SELECT id FROM outbox_jobs WHERE job_id = :job_id ORDER BY id DESC LIMIT 1)
"""


async def _write(sessionmaker: async_sessionmaker[AsyncSession], statement: str, **params: Any) -> Any:
    try:
        async with sessionmaker() as db:
            result = await db.execute(text(statement), params)
            value = result.scalar() if result.returns_rows else None
            await db.commit()
            return value
    except Exception as exc:
        log.warning("job_console_write_failed", error_type=type(exc).__name__)
        return None


async def job_started(ctx: dict[str, Any]) -> str | None:
    """Mark the job running with this try; answers the id of the request that caused it."""
    return await _write(ctx["sessionmaker"], _RUNNING, job_id=ctx["job_id"], **{"try": ctx.get("job_try", 1)})


async def job_ended(ctx: dict[str, Any], state: str, error: BaseException | None) -> None:
    """`retrying` (arq runs it again) or `failed` (it will not, until staff replay it)."""
    await _write(ctx["sessionmaker"], _ENDED, job_id=ctx["job_id"], state=state,
                 error=sanitize_error(error) if error is not None else None)


async def report_progress(ctx: dict[str, Any] | None, progress: dict[str, Any]) -> None:
    """What a long job has done so far (counts and phases, never names), readable while it runs."""
    if not ctx or not ctx.get("job_id") or ctx["job_id"].startswith("cron:"):
        return
    await _write(ctx["sessionmaker"], _PROGRESS, job_id=ctx["job_id"], progress=orjson.dumps(progress).decode())


def result_json(result: Any) -> Any:
    """A job's answer as stored for the console: counts and ids (settlement's totals), nothing else."""
    if isinstance(result, (dict, list, int, bool, str)):  # statuses, counts and ids: what jobs answer
        return orjson.loads(orjson.dumps(result, default=str))
    return None


async def forget_result(redis: Redis, job_id: str) -> None:
    """arq refuses a job id whose result it still keeps: a replay under the same id needs it gone."""
    await redis.delete(result_key_prefix + job_id)
