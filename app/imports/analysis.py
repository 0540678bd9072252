"""The analysis job (rules I5, I6, I9, I11): read the stored upload, normalise and classify its rows.

The file is parsed in a child process with a bounded address space: a crafted workbook that makes
the spreadsheet library allocate without end (or abort) takes the child down, not the worker. The
child hands back normalised rows; the worker gathers the group's clients sharing their emails or
names in two set-based queries, classifies them (app/imports/matching.py) and writes them with COPY
in chunks, committing each so progress shows. A rerun (a crashed worker, arq's redelivery) starts
by deleting the rows already written, so an import is never half-analysed when it says `ready`.
"""

import asyncio
import multiprocessing
import os
import resource
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import structlog
from arq import Retry
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core import audit, crypto
from app.core.db import driver_connection
from app.core.outages import outage_code
from app.core.stopwatch import Stopwatch
from app.core.storage import ObjectNotFound, Storage
from app.imports.matching import (
    Candidate,
    CandidateIndex,
    NormalisedRow,
    classify_all,
    counts,
    normalise,
)
from app.imports.parsers import ImportRejected, progress, read_import
from app.imports.parsers.columns import header_key
from app.models import ClientImport, ImportMapping, Membership
from app.webhooks.events import emit

log = structlog.get_logger("caseload.imports")
PASSWORD_PURPOSE = "import_zip_password"
CHUNK_ROWS = 10_000
PROGRESS_SECONDS = 0.5
MAX_TRIES = 3
# The parser child's peak RSS in the last analysis of this process (logged; read by the benchmark).
last_parser_peak_kb = 0
last_timings: dict[str, float] = {}
ROW_COLUMNS = (
    "import_id", "line", "source_ref", "first_name", "last_name", "email", "phone", "email_key", "phone_e164",
    "classification", "badges", "invalid_reason", "candidate_client_ids", "matched_client_id", "selected", "documents",
    "middle_name", "problems",
)
# A parser child that died (out of its address space, or aborted in native code) refuses the file.
CRASHED = ("file_unreadable", "The file could not be read within the resources an import may use. "
           "Save it again (as CSV UTF-8 if you can) and upload it again.")


# --- the child process ----------------------------------------------------------------------------


def _start_child(limit: int, counter: Any = None) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    progress.attach(counter)


def parse_file(path: str, password: str | None, mapping: dict[str, str] | None = None) -> tuple[Any, ...]:
    """Runs in the child: the file's rows, normalised, or why it is refused (plain values, picklable)."""
    data = Path(path).read_bytes()
    try:
        parsed = read_import(data, password=password, mapping=mapping)
    except ImportRejected as refused:
        if refused.code == "missing_columns" and refused.extra.get("headers") and mapping is None:
            return ("needs_mapping", refused.extra["headers"], refused.extra["samples"], refused.extra["missing"])
        missing = refused.extra.get("missing")
        return ("rejected", refused.code, refused.detail, list(missing) if missing else None)
    except MemoryError:
        return ("rejected", *CRASHED, None)
    del data
    parsed_format, container = parsed.format.value, parsed.container.value
    warnings = [{"code": w.code, "detail": w.detail, "items": list(w.items)} for w in parsed.warnings]
    # Plain tuples: pickled to the worker several times faster than NamedTuples or dataclasses.
    rows = [tuple(normalise(row)) for row in parsed.rows]
    del parsed
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ("parsed", parsed_format, container, warnings, rows, peak_kb)


_context = multiprocessing.get_context("forkserver")
# The server forks each child with the readers already imported: no import cost per file.
_context.set_forkserver_preload(["app.imports.analysis"])


async def parse_in_child(
    path: str,
    password: str | None,
    memory_limit: int,
    *,
    on_rows: Callable[[int], Awaitable[None]] | None = None,
    mapping: dict[str, str] | None = None,
) -> tuple[Any, ...]:
    """One fresh process per file (`max_tasks_per_child=1`), its address space capped. `on_rows` hears, every
    PROGRESS_SECONDS while the child reads, how many rows it has read so far."""
    loop = asyncio.get_running_loop()
    counter = _context.Value("q", 0, lock=False)
    with ProcessPoolExecutor(
        1, mp_context=_context, initializer=_start_child, initargs=(memory_limit, counter), max_tasks_per_child=1
    ) as pool:
        try:
            future = loop.run_in_executor(pool, parse_file, path, password, mapping)
            reported = 0
            while on_rows is not None:
                done, _ = await asyncio.wait({future}, timeout=PROGRESS_SECONDS)
                if done:
                    break
                if counter.value != reported:
                    reported = counter.value
                    await on_rows(reported)
            return await future
        except (BrokenProcessPool, MemoryError):
            return ("rejected", *CRASHED, None)
        except Exception as exc:  # a reader's bug: the file is refused, the import not left `analyzing`
            # The type only: a message could quote the file.
            log.error("import_parser_error", error_type=type(exc).__name__)
            return ("rejected", *CRASHED, None)


# --- the job -------------------------------------------------------------------------------------


@asynccontextmanager
async def job_connection(ctx: dict[str, Any]) -> AsyncIterator[AsyncConnection]:
    """The worker's own connection for the whole job; tests hand theirs in (`ctx["connection"]`)."""
    if "connection" in ctx:
        yield ctx["connection"]
        return
    async with ctx["database"].engine.connect() as conn:
        yield conn


def job_session(conn: AsyncConnection) -> AsyncSession:
    # On a connection already inside a transaction (a test's), commits become savepoint releases.
    return AsyncSession(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


def _lock_key(import_id: uuid.UUID) -> int:
    return int.from_bytes(import_id.bytes[:8], "big", signed=True)


@asynccontextmanager
async def import_lock(conn: AsyncConnection, import_id: uuid.UUID) -> AsyncIterator[bool]:
    """A session-level advisory lock: one analysis per import at a time, released even on failure."""
    driver = (await conn.get_raw_connection()).driver_connection
    key = _lock_key(import_id)
    locked = await driver.fetchval("SELECT pg_try_advisory_lock($1)", key)
    try:
        yield bool(locked)
    finally:
        if locked:
            await driver.fetchval("SELECT pg_advisory_unlock($1)", key)


async def analyze_import(ctx: dict[str, Any], import_id: str) -> str:
    """arq job: queued -> analyzing -> ready | failed. Idempotent: a finished import is left alone."""
    the_id = uuid.UUID(import_id)
    async with job_connection(ctx) as conn, import_lock(conn, the_id) as locked:
        if not locked:
            return "busy"
        try:
            async with job_session(conn) as db:
                return await _analyze(ctx, db, the_id)
        except Exception as exc:
            if outage_code(exc) is not None:
                raise  # PostgreSQL or Redis away: the worker retries with backoff, the file's tries untouched
            # Our failure, not the file's (storage away, a bug): retried, then reported, never
            # left `analyzing` for good. The type only: a message could quote the file.
            job_try = ctx.get("job_try", 1)
            log.error("import_analysis_error", import_id=import_id, error_type=type(exc).__name__, job_try=job_try)
            if job_try < MAX_TRIES:
                raise Retry(defer=10 * job_try) from None
            async with job_session(conn) as db:
                return await _fail(db, the_id, "analysis_error", "The file could not be analysed because of an error "
                                   "on our side. Upload it again; if that fails too, contact support.")


async def _analyze(ctx: dict[str, Any], db: AsyncSession, import_id: uuid.UUID) -> str:
    imp = await db.scalar(select(ClientImport).where(ClientImport.id == import_id).with_for_update())
    if imp is None or imp.status not in ("queued", "analyzing"):
        return imp.status if imp is not None else "missing"
    driver = await driver_connection(db)
    await driver.execute("DELETE FROM import_rows WHERE import_id = $1", import_id)  # a rerun starts clean
    imp.status, imp.rows_done, imp.rows_total, imp.bytes_done, imp.rows_read = "analyzing", 0, 0, 0, 0
    imp.heartbeat_at = func.now()
    password = crypto.decrypt(imp.password_encrypted, purpose=PASSWORD_PURPOSE) if imp.password_encrypted else None
    storage_key, group_id, mapping = imp.storage_key, imp.group_id, imp.mapping
    await db.commit()

    storage: Storage = ctx["storage"]
    settings = ctx["settings"]
    stopwatch = Stopwatch()
    lap, timings = stopwatch.lap, stopwatch.laps

    async def report(sql: str, value: int) -> None:
        # Each report is its own small commit, so a person polling the import sees it at once (I5).
        await (await driver_connection(db)).execute(sql, import_id, value)
        await db.commit()

    async def rows_read(count: int) -> None:
        await report("UPDATE client_imports SET rows_read = $2 WHERE id = $1", count)

    try:
        with _downloaded() as path:
            size = await _download(storage, storage_key, path)
            await report("UPDATE client_imports SET bytes_done = $2 WHERE id = $1", size)
            outcome = await parse_in_child(
                str(path), password, settings.import_parser_memory_bytes, on_rows=rows_read, mapping=mapping
            )
            if outcome[0] == "needs_mapping":
                # I13: a mapping the group saved for files with these columns is applied without asking again.
                saved = await db.scalar(select(ImportMapping.mapping).where(
                    ImportMapping.group_id == group_id, ImportMapping.header_key == header_key(outcome[1])))
                if saved is not None:
                    mapping = saved
                    outcome = await parse_in_child(
                        str(path), password, settings.import_parser_memory_bytes, on_rows=rows_read, mapping=mapping
                    )
    except ObjectNotFound:
        outcome = ("rejected", "upload_missing", "The uploaded file is no longer stored. Upload it again.", None)
    if outcome[0] == "needs_mapping":
        _, headers, samples, missing = outcome
        return await _wait_for_mapping(db, import_id, headers, samples, missing)
    if outcome[0] == "rejected":
        _, code, detail, missing = outcome
        return await _fail(db, import_id, code, detail, missing=missing)
    _, file_format, container, warnings, raw_rows, parser_peak_kb = outcome
    rows = list(map(NormalisedRow._make, raw_rows))
    del raw_rows, outcome
    lap("parse")
    if file_format == "simplepractice_zip" and await _provider_count(db, group_id) > 1:
        return await _fail(
            db, import_id, "simplepractice_zip_solo_only",
            "A SimplePractice export (.zip) carries one provider's clients and documents: it can be imported only "
            "in a group with a single provider (I9). Import its client list as a CSV or Excel report instead.",
        )

    imp = await db.get(ClientImport, import_id, with_for_update=True)
    assert imp is not None
    imp.format, imp.container, imp.warnings, imp.rows_total = file_format, container, warnings, len(rows)
    imp.mapping = mapping
    imp.rows_read = len(rows)
    await db.commit()

    index = CandidateIndex.of(await gather_candidates(db, group_id, rows))
    lap("candidates")
    verdicts = classify_all(rows, index)
    lap("classify")
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = range(start, min(start + CHUNK_ROWS, len(rows)))
        driver = await driver_connection(db)
        await driver.copy_records_to_table(
            "import_rows", columns=ROW_COLUMNS, records=_records(import_id, rows, verdicts, chunk)
        )
        await driver.execute(
            "UPDATE client_imports SET rows_done = $2, heartbeat_at = now() WHERE id = $1", import_id, chunk.stop
        )
        await db.commit()

    lap("write")
    imp = await db.get(ClientImport, import_id, with_for_update=True, populate_existing=True)
    assert imp is not None
    imp.status, imp.analyzed_at = "ready", func.now()
    imp.job_attempts = 0  # the sweeper counts a finalize's attempts afresh (app/imports/sweeper.py)
    if not any(row.documents for row in rows):
        imp.password_encrypted = None  # documents are what a password is kept for (finalize reads them)
    by_class = counts(verdicts)
    if by_class["invalid"] == len(rows):
        imp.warnings = [diagnose(file_format, rows), *imp.warnings]
    await audit.record(db, None, "import.analysed", target_type="client_import", target_id=import_id,
                       group_id=group_id, format=file_format, rows=len(rows), **by_class)
    await emit(db, group_id, "import.ready", import_id, ["status"], provider_id=imp.provider_user_id)
    await db.commit()
    global last_parser_peak_kb, last_timings
    last_parser_peak_kb, last_timings = parser_peak_kb, timings
    log.info("import_analysed", import_id=str(import_id), rows=len(rows), format=file_format,
             parser_peak_rss_mb=parser_peak_kb // 1024, seconds=timings)
    return "ready"


def diagnose(file_format: str, rows: list[NormalisedRow]) -> dict[str, Any]:
    """I12: when no row can be imported, say so for the whole file: what is missing, and what to upload instead."""
    no_email = sum(1 for row in rows if row.email is None)
    if file_format == "simplepractice_client_demographics":
        detail = ("SimplePractice's Client Demographics report has no emails, so no client can be imported from it. "
                  "Download the Client Details report instead (it has the Email column).")
    elif no_email == len(rows):
        detail = ("No row has an email, and a new client needs one. Add an Email column to the file, or upload a list "
                  "that has emails (for SimplePractice, the Client Details report).")
    else:
        reasons: dict[str, int] = {}
        for row in rows:
            for reason in (row.invalid_reason or "").split("; "):
                if reason:
                    reasons[reason] = reasons.get(reason, 0) + 1
        common, count = max(reasons.items(), key=lambda item: item[1]) if reasons else ("unknown", 0)
        detail = (f"No row can be imported; the most common problem is \"{common}\" ({count:,} rows). Each row's "
                  "`problems` say what to fix: correct them in review, or fix the file and upload it again.")
    return {"code": "nothing_importable", "detail": detail, "items": []}


async def _wait_for_mapping(
    db: AsyncSession, import_id: uuid.UUID, headers: list[str], samples: list[list[str]], missing: list[str]
) -> str:
    imp = await db.get(ClientImport, import_id, with_for_update=True, populate_existing=True)
    assert imp is not None
    imp.status, imp.columns, imp.analyzed_at = "needs_mapping", {"headers": headers, "samples": samples, "missing": missing}, func.now()
    await audit.record(db, None, "import.needs_mapping", target_type="client_import", target_id=import_id,
                       group_id=imp.group_id, columns=len(headers))
    await db.commit()
    log.info("import_needs_mapping", import_id=str(import_id), columns=len(headers))
    return "needs_mapping"


async def _fail(
    db: AsyncSession, import_id: uuid.UUID, code: str, detail: str, *, missing: list[str] | None = None
) -> str:
    imp = await db.get(ClientImport, import_id, with_for_update=True, populate_existing=True)
    assert imp is not None
    imp.status, imp.failure_code, imp.failure_detail = "failed", code, detail[:1000]
    imp.password_encrypted, imp.analyzed_at = None, func.now()
    details: dict[str, Any] = {"code": code}
    if missing:
        details["missing_columns"] = missing
    await audit.record(db, None, "import.analysis_failed", target_type="client_import", target_id=import_id,
                       group_id=imp.group_id, outcome="failure", **details)
    await db.commit()
    log.info("import_failed", import_id=str(import_id), code=code)
    return "failed"


async def _provider_count(db: AsyncSession, group_id: uuid.UUID) -> int:
    return await db.scalar(
        select(func.count()).select_from(Membership).where(
            Membership.group_id == group_id, Membership.is_provider, Membership.ended_at.is_(None)
        )
    ) or 0


class _downloaded:
    """A private temporary file for the upload's bytes, removed afterwards (it holds PHI)."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="caseload-import-")
        os.close(fd)
        self.path = Path(name)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


async def _download(storage: Storage, key: str, path: Path) -> int:
    size = 0
    with path.open("wb") as out:
        async for chunk in storage.open(key):
            size += len(chunk)
            await asyncio.to_thread(out.write, chunk)
    return size


_CANDIDATES_BY_EMAIL = """
SELECT c.id, c.first_name_key, c.last_name_key, c.email_key
FROM clients c
WHERE c.group_id = $1 AND c.email_key = ANY($2::text[])
"""
_CANDIDATES_BY_NAME = """
SELECT c.id, c.first_name_key, c.last_name_key, c.email_key
FROM unnest($2::text[], $3::text[]) AS k(last_key, first_key)
JOIN clients c ON c.group_id = $1 AND c.last_name_key = k.last_key AND c.first_name_key = k.first_key
"""


async def gather_candidates(db: AsyncSession, group_id: uuid.UUID, rows: list[NormalisedRow]) -> list[Candidate]:
    """The group's clients sharing an email or a (last, first) name with any row: two statements."""
    # Unsorted: the order means nothing to the statements, and sorting 200,000 keys took 0.15 s.
    emails = list({row.email_key for row in rows if row.email_key is not None})
    names = list({key for row in rows for key in row.name_keys})
    driver = await driver_connection(db)
    found = list(await driver.fetch(_CANDIDATES_BY_EMAIL, group_id, emails)) if emails else []
    if names:
        found += await driver.fetch(
            _CANDIDATES_BY_NAME, group_id, [last for last, _ in names], [first for _, first in names]
        )
    return [Candidate(r["id"], r["first_name_key"], r["last_name_key"], r["email_key"]) for r in found]


def _records(
    import_id: uuid.UUID, rows: list[NormalisedRow], verdicts: list[Any], chunk: range
) -> Iterator[tuple[Any, ...]]:
    for i in chunk:
        row, verdict = rows[i], verdicts[i]
        documents = (
            orjson.dumps([
                {"member_name": d.member_name, "file_name": d.file_name, "size": d.size, "category": str(d.category)}
                for d in row.documents
            ]).decode()
            if row.documents
            else "[]"
        )
        yield (
            import_id, row.line, row.source_ref, row.first_name, row.last_name, row.email, row.phone, row.email_key,
            row.phone_e164, verdict.classification.value, list(verdict.badges),
            row.invalid_reason if verdict.classification == "invalid" else None,
            list(verdict.candidate_client_ids), verdict.matched_client_id, verdict.selected, documents,
            row.middle_name, problems_json(row.problems),
        )


def problems_json(problems: tuple[tuple[str, str, str], ...]) -> str:
    if not problems:
        return "[]"
    return orjson.dumps([{"column": c, "code": code, "message": m} for c, code, m in problems]).decode()
