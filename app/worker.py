"""arq worker: its functions, cron jobs, startup and shutdown.

Every job opens one transaction, reloads its rows by id, re-checks their state and commits at the
end: arq delivers at least once, so running a job twice must be harmless.
"""

import uuid
from typing import Any

import structlog
from arq import Retry, cron
from arq.worker import func as arq_function
from arq.connections import RedisSettings
from sqlalchemy import delete, func, or_

from app.config import Settings, get_settings
from app.core.db import Database
from app.core.jobs import relay_outbox
from app.core.logging import configure_logging
from app.core.mail import deliver_one, mail_backend
from app.core.redis import redis_settings
from app.core.storage import LocalStorage
from app.imports.analysis import analyze_import
from app.imports.finalize import finalize_import
from app.models import AuthSession, EmailVerificationToken, IdempotencyRecord
from app.payouts.settlement import settle_job

log = structlog.get_logger("caseload.worker")
MAIL_MAX_TRIES = 8


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    configure_logging(settings.log_level)
    assert settings.database_url, "DATABASE_URL must be set"
    database = Database(settings.database_url, settings)
    ctx.update(settings=settings, database=database, sessionmaker=database.sessionmaker, mail=mail_backend(settings))
    ctx.setdefault("storage", LocalStorage(settings.files_path))


async def shutdown(ctx: dict[str, Any]) -> None:
    # arq calls this even when startup failed before the database was opened: never hide that failure.
    database = ctx.get("database")
    if database is not None:
        await database.close()


async def deliver_mail(ctx: dict[str, Any], mail_id: str) -> bool:
    async with ctx["sessionmaker"]() as db:
        try:
            sent = await deliver_one(db, uuid.UUID(mail_id), ctx["mail"], ctx["settings"].mail_from)
        except Exception:
            await db.commit()  # keep the attempt count and the error
            job_try = ctx.get("job_try", 1)
            log.warning("mail_delivery_failed", mail_id=mail_id, job_try=job_try)
            if job_try < MAIL_MAX_TRIES:
                raise Retry(defer=min(30 * 2**job_try, 3600)) from None
            raise
        await db.commit()
        return sent


async def relay_outbox_job(ctx: dict[str, Any]) -> int:
    """The periodic catch-up for jobs whose after-commit relay did not happen (Redis away, process died)."""
    async with ctx["sessionmaker"]() as db:
        relayed = await relay_outbox(db, ctx["redis"])
        await db.commit()
        return relayed


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
    functions = [deliver_mail, relay_outbox_job, purge_expired, arq_function(settle_job, name="settle"), analyze_import, finalize_import]
    cron_jobs = [
        cron(relay_outbox_job, second=set(range(0, 60, 5)), run_at_startup=True, unique=True),
        cron(purge_expired, minute=17, unique=True),
        cron(settle_job, name="settle_hourly", minute=5, run_at_startup=True, unique=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 10
    job_timeout = 300
    keep_result = 3600

    @staticmethod
    def redis_settings_from(settings: Settings) -> RedisSettings:
        assert settings.redis_url, "REDIS_URL must be set"
        return redis_settings(settings.redis_url)
