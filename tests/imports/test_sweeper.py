"""The import sweeper (DESIGN.md reliability: no job stuck): an import whose job vanished, failed or
died with its worker is sent again under a new job id, and after its attempts fails with a reason the
person can act on; an import whose job is alive or waiting is left alone."""

import os
import uuid
from typing import Any

import asyncpg
from arq import ArqRedis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import asyncpg_dsn
from app.imports.analysis import _lock_key
from app.imports.sweeper import MAX_JOB_ATTEMPTS, sweep_imports
from app.models import OutboxJob
from tests.imports.conftest import Importer

CSV = b"first_name,last_name,email\nAda,Lovelace,ada@example.com\n"


async def queued_import(importer: Importer) -> str:
    response = await importer.upload(CSV)
    assert response.status_code == 202, response.text
    return response.json()["id"]


async def outbox_job_ids(db: AsyncSession) -> list[str]:
    return list(await db.scalars(select(OutboxJob.job_id).order_by(OutboxJob.id)))


async def test_an_import_whose_job_vanished_is_sent_again(importer: Importer, db: AsyncSession, redis: ArqRedis) -> None:
    # no job stuck: queued, and Redis knows no such job (lost, or never delivered) -> sent again as attempt 1
    import_id = await queued_import(importer)
    assert await sweep_imports(db, redis, stale_after_s=-1) == {"sent_again": 1, "failed": 0}
    assert (await importer.stored(import_id)).job_attempts == 1
    assert await outbox_job_ids(db) == [f"analyze_import:{import_id}", f"analyze_import:{import_id}:1"]
    # the new attempt analyses the file as the first would have
    from app.imports.analysis import analyze_import

    assert await analyze_import(importer.ctx, import_id) == "ready"


async def test_an_import_is_failed_with_a_reason_after_its_attempts(importer: Importer, db: AsyncSession, redis: ArqRedis) -> None:
    # no job stuck: past the attempt limit the import is failed, saying what the person can do
    import_id = await queued_import(importer)
    imp = await importer.stored(import_id)
    imp.job_attempts = MAX_JOB_ATTEMPTS
    await db.flush()
    assert await sweep_imports(db, redis, stale_after_s=-1) == {"sent_again": 0, "failed": 1}
    shown = await importer.get(import_id)
    assert shown["status"] == "failed"
    assert shown["failure"]["code"] == "analysis_interrupted"
    assert "Upload the file again" in shown["failure"]["detail"]


async def test_an_import_waiting_in_the_queue_is_left_alone(importer: Importer, db: AsyncSession, redis: ArqRedis) -> None:
    # the sweeper does not take a job that is only waiting its turn
    import_id = await queued_import(importer)
    await redis.set(f"arq:job:analyze_import:{import_id}", b"queued")
    assert await sweep_imports(db, redis, stale_after_s=-1) == {"sent_again": 0, "failed": 0}


async def test_a_job_whose_worker_died_is_taken_over(importer: Importer, db: AsyncSession, redis: ArqRedis) -> None:
    # a killed worker: arq still lists its job as in progress (for 310 s), but nobody holds the import's lock
    import_id = await queued_import(importer)
    imp = await importer.stored(import_id)
    imp.status = "analyzing"
    await db.flush()
    await redis.set(f"arq:job:analyze_import:{import_id}", b"queued")
    await redis.set(f"arq:in-progress:analyze_import:{import_id}", b"1")
    assert await sweep_imports(db, redis, stale_after_s=-1) == {"sent_again": 1, "failed": 0}


async def test_an_import_whose_analysis_is_alive_is_left_alone(importer: Importer, db: AsyncSession, redis: ArqRedis) -> None:
    # alive = the import's advisory lock is held (by a worker's connection, here another connection)
    import_id = await queued_import(importer)
    other = await asyncpg.connect(asyncpg_dsn(os.environ["DATABASE_URL"]))
    try:
        await other.execute("SELECT pg_advisory_lock($1)", _lock_key(uuid.UUID(import_id)))
        assert await sweep_imports(db, redis, stale_after_s=-1) == {"sent_again": 0, "failed": 0}
    finally:
        await other.close()


async def test_the_lock_lookup_reads_negative_keys_too(db: AsyncSession) -> None:
    # pg_locks shows a bigint key as two unsigned halves: the sweeper's SQL must match keys of either sign
    other = await asyncpg.connect(asyncpg_dsn(os.environ["DATABASE_URL"]))
    try:
        for first in ("ff", "00", "80", "7f"):
            the_id = uuid.UUID(first + "112233445566778899aabbccddeeff"[:30])
            await other.execute("SELECT pg_advisory_lock($1)", _lock_key(the_id))
            held: Any = await db.scalar(
                select(1).where(
                    __import__("sqlalchemy").text(
                        "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 1 "
                        "AND ((l.classid::bigint << 32) | l.objid::bigint) = "
                        "('x' || left(replace(CAST(:id AS uuid)::text, '-', ''), 16))::bit(64)::bigint)"
                    ).bindparams(id=str(the_id))
                )
            )
            assert held == 1, first
            await other.execute("SELECT pg_advisory_unlock_all()")
    finally:
        await other.close()
