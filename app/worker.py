"""arq worker: its functions, cron jobs, startup and shutdown.

Every job opens one transaction, reloads its rows by id, re-checks their state and commits at the
end: arq delivers at least once, so running a job twice must be harmless.
"""

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from arq import Retry, cron
from arq.worker import func as arq_function
from arq.connections import RedisSettings
from sqlalchemy import delete, func, or_

from app.config import Settings, get_settings
from app.core.db import Database
from app.core import job_console
from app.core.jobs import mark_done, reconcile_outbox, relay_outbox
from app.core.logging import configure_logging
from app.core.mail import deliver_one, mail_backend
from app.core.outages import outage_code
from app.core.redis import redis_settings, with_socket_timeout
from app.core.storage import storage_from_settings
from app.imports.analysis import analyze_import
from app.imports.finalize import finalize_import
from app.imports.sweeper import sweep_imports
from app.imports.undo import purge_stored_objects, purge_unused_accounts
from app.models import AuthSession, EmailVerificationToken, IdempotencyRecord
from app.payouts.settlement import settle_job
from app.sessions.notices import remind_sessions_job
from app.webhooks.worker import start_dispatcher, stop_dispatcher

log = structlog.get_logger("caseload.worker")
MAIL_MAX_TRIES = 8


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    configure_logging(settings.log_level)
    assert settings.database_url, "DATABASE_URL must be set"
    database = Database(settings.database_url, settings)
    ctx.update(settings=settings, database=database, sessionmaker=database.sessionmaker, mail=mail_backend(settings))
    if "storage" not in ctx:  # tests pass their own; an S3 client is made only when needed
        ctx["storage"] = storage_from_settings(settings)
    # A frozen Redis fails the worker's commands within seconds instead of stalling it (arq sets no read timeout).
    with_socket_timeout(ctx["redis"], settings.redis_timeout_s)
    start_dispatcher(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    # arq calls this even when startup failed before the database was opened: never hide that failure.
    await stop_dispatcher(ctx)
    database = ctx.get("database")
    if database is not None:
        await database.close()


def outage_backoff(job_try: int) -> int:
    """Seconds before the next try of a job that met an outage: 2, 4, 8, ... up to a minute."""
    return min(2**job_try, 60)


def tracked(function: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A job as the worker runs it: retried with backoff when PostgreSQL or Redis is away, its outbox
    row marked done once it has run (app/core/jobs.py), so the reconciler never sends it again, and its
    state kept for the job console (O1): running, retrying, failed or done, one UPDATE each. Its log
    lines carry the job id, the try and the id of the request that caused it."""

    @functools.wraps(function)
    async def run(ctx: dict[str, Any], *args: Any) -> Any:
        job_id = ctx.get("job_id")
        console = bool(job_id) and not job_id.startswith("cron:")
        job_try = ctx.get("job_try", 1)
        request_id = await job_console.job_started(ctx) if console else None
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(job_id=job_id, job_try=job_try, request_id=request_id)
        try:
            result = await function(ctx, *args)
        except Retry as retry:
            if console:  # the job's own retry (a mail server away): the error that caused it
                await job_console.job_ended(ctx, "retrying", retry.__context__)
            raise
        except Exception as exc:
            if (code := outage_code(exc)) is None:
                if console:
                    await job_console.job_ended(ctx, "failed", exc)
                log.error("job_failed", function=function.__name__, error_type=type(exc).__name__)
                raise
            log.warning("job_outage_retry", function=function.__name__, code=code, job_try=job_try)
            if console:
                await job_console.job_ended(ctx, "retrying", exc)
            raise Retry(defer=outage_backoff(job_try)) from None
        if console:
            try:
                async with ctx["sessionmaker"]() as db:
                    await mark_done(db, job_id, job_console.result_json(result))
                    await db.commit()
            except Exception as exc:
                log.warning("job_done_mark_failed", function=function.__name__, error_type=type(exc).__name__)
                if outage_code(exc) is not None:
                    # Run again once PostgreSQL is back: the job finds its work done and this mark is made.
                    raise Retry(defer=outage_backoff(ctx.get("job_try", 1))) from None
        return result

    return run


async def deliver_mail(ctx: dict[str, Any], mail_id: str) -> bool:
    async with ctx["sessionmaker"]() as db:
        try:
            sent = await deliver_one(db, uuid.UUID(mail_id), ctx["mail"], ctx["settings"].mail_from)
        except Exception as exc:
            if outage_code(exc) is not None:
                raise  # PostgreSQL or Redis away, not the mail server: retried soon (tracked)
            await db.commit()  # keep the attempt count and the error
            job_try = ctx.get("job_try", 1)
            log.warning("mail_delivery_failed", mail_id=mail_id, job_try=job_try)
            if job_try < MAIL_MAX_TRIES:
                raise Retry(defer=min(30 * 2**job_try, 3600)) from None
            raise
        await db.commit()
        return sent


async def relay_outbox_job(ctx: dict[str, Any]) -> int:
    """The periodic catch-up for jobs whose after-commit relay did not happen (Redis away, process died),
    and for relayed jobs that Redis lost before they ran (the reconciler)."""
    async with ctx["sessionmaker"]() as db:
        relayed = await relay_outbox(db, ctx["redis"])
        await db.commit()
        relayed += await reconcile_outbox(db, ctx["redis"])
        await db.commit()
        return relayed


async def sweep_imports_job(ctx: dict[str, Any]) -> dict[str, int]:
    """Imports whose job vanished, failed or died with its worker: sent again, or failed after a few attempts."""
    async with ctx["sessionmaker"]() as db:
        swept = await sweep_imports(db, ctx["redis"])
        await db.commit()
        if swept["sent_again"]:
            await relay_outbox(db, ctx["redis"])
            await db.commit()
        return swept


async def purge_expired(ctx: dict[str, Any]) -> None:
    """Drop credentials and idempotency records nobody can use any more."""
    async with ctx["sessionmaker"]() as db:
        week_ago = func.now() - func.make_interval(0, 0, 1)
        await db.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < func.now()))
        await db.execute(
            delete(AuthSession).where(or_(AuthSession.expires_at < week_ago, AuthSession.revoked_at < week_ago))
        )
        await db.execute(delete(EmailVerificationToken).where(EmailVerificationToken.expires_at < week_ago))
        await db.commit()


class WorkerSettings:
    # `settle`: on demand (POST /v1/ops/settlements, `caseload settle`) and hourly; P5 makes overlaps harmless.
    functions = [
        # A mail is seconds of work: a killed worker's mail is redelivered after 70 s, not arq's 310.
        arq_function(tracked(deliver_mail), name="deliver_mail", timeout=60), relay_outbox_job, purge_expired, arq_function(tracked(settle_job), name="settle"),
        tracked(analyze_import), tracked(finalize_import), tracked(purge_stored_objects),
        tracked(purge_unused_accounts), arq_function(remind_sessions_job, name="remind_sessions"),
    ]
    cron_jobs = [
        cron(relay_outbox_job, second=set(range(0, 60, 5)), run_at_startup=True, unique=True),
        cron(sweep_imports_job, second=set(range(2, 60, 10)), unique=True),
        cron(purge_expired, minute=17, unique=True),
        cron(settle_job, name="settle_hourly", minute=5, run_at_startup=True, unique=True),
        # S12: each minute; session_notices makes overlapping runs send each reminder once.
        cron(remind_sessions_job, name="remind_sessions_cron", second=40, unique=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    # Tries of a job that meets outages (2 s, 4 s, ... 60 s apart: about 7 minutes in all); the jobs'
    # own limits (mail, analysis) are lower for their own failures.
    max_tries = 12
    # A killed worker's import is taken over by the sweeper within a minute; arq's own redelivery after
    # this timeout then finds the work done. Finalizing a large import may take minutes: not lowered.
    job_timeout = 300
    keep_result = 3600

    @staticmethod
    def redis_settings_from(settings: Settings) -> RedisSettings:
        assert settings.redis_url, "REDIS_URL must be set"
        return redis_settings(settings.redis_url)
