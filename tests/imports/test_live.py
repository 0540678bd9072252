"""Imports with real commits: the analysis through a real arq worker, and races (I5, I8)."""

import asyncio
from collections.abc import Awaitable, Callable

import httpx
from arq.worker import Worker
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import get_settings
from app.imports.analysis import analyze_import
from app.memberships.service import make_provider
from tests.core.test_jobs_and_mail_live import wait_relayed
from tests.fixtures.factories import bearer, make_group, make_user, session_token
from tests.imports import fixtures_gen as gen

RunWorker = Callable[[], Awaitable[Worker]]


async def _cast(app: FastAPI) -> tuple[str, dict[str, str]]:
    async with app.state.db.sessionmaker() as db:
        owner = await make_user(db, first_name="Olive", last_name="Owner")
        group = await make_group(db, owner=owner, name="Live Practice")
        await make_provider(db, group, owner, "LCSW")
        headers = bearer(await session_token(db, owner))
        await db.commit()
    return f"/v1/groups/{group.id}/imports", headers


async def _count(engine: AsyncEngine, sql: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(sql))).scalar_one()


async def test_upload_analysed_by_the_worker_then_finalized_by_two_racing_calls(
    live_client: httpx.AsyncClient, live_app: FastAPI, engine: AsyncEngine, run_worker: RunWorker
) -> None:
    # rules I5, I8: analysed in the background; two finalize calls at once import once
    url, headers = await _cast(live_app)
    upload = await live_client.post(url, files={"file": ("c.csv", gen.people_csv(5))}, headers=headers)
    assert upload.status_code == 202, upload.text
    await wait_relayed(engine)
    worker = await run_worker()
    assert worker.jobs_failed == 0
    imp = (await live_client.get(f"{url}/{upload.json()['id']}", headers=headers)).json()
    assert imp["status"] == "ready" and imp["counts"]["new"] == 5
    await live_client.post(f"{url}/{imp['id']}/rows/selection", json={"classification": "new", "selected": True}, headers=headers)
    clients_before = await _count(engine, "SELECT count(*) FROM clients")
    first, second = await asyncio.gather(
        live_client.post(f"{url}/{imp['id']}/finalize", json={}, headers=headers),
        live_client.post(f"{url}/{imp['id']}/finalize", json={}, headers=headers),
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json()["result"] == second.json()["result"]
    assert first.json()["result"]["clients_imported"] == 5
    assert await _count(engine, "SELECT count(*) FROM clients") == clients_before + 5
    assert await _count(engine, "SELECT count(*) FROM roster_entries") == clients_before + 5


async def test_two_analyses_of_one_import_at_once_write_its_rows_once(
    live_client: httpx.AsyncClient, live_app: FastAPI, engine: AsyncEngine
) -> None:
    # jobs are at-least-once: a duplicate run neither doubles nor breaks the rows
    url, headers = await _cast(live_app)
    upload = await live_client.post(url, files={"file": ("c.csv", gen.people_csv(30))}, headers=headers)
    ctx = {"database": live_app.state.db, "storage": live_app.state.storage, "settings": get_settings()}
    results = await asyncio.gather(analyze_import(ctx, upload.json()["id"]), analyze_import(ctx, upload.json()["id"]))
    assert "ready" in results
    assert await analyze_import(ctx, upload.json()["id"]) == "ready"  # finished: left alone
    assert await _count(engine, "SELECT count(*) FROM import_rows") == 30


async def test_a_crashed_analysis_is_rerun_from_scratch(
    live_client: httpx.AsyncClient, live_app: FastAPI, engine: AsyncEngine
) -> None:
    # a worker killed mid-way left `analyzing` and some rows: the redelivered job starts over
    url, headers = await _cast(live_app)
    upload = await live_client.post(url, files={"file": ("c.csv", gen.people_csv(4))}, headers=headers)
    import_id = upload.json()["id"]
    async with engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO import_rows (import_id, line, source_ref, classification) VALUES (:i, 99, 'row 99', 'new')"
        ), {"i": import_id})
        await conn.execute(text("UPDATE client_imports SET status = 'analyzing', rows_total = 9, rows_done = 1 WHERE id = :i"),
                           {"i": import_id})
    ctx = {"database": live_app.state.db, "storage": live_app.state.storage, "settings": get_settings()}
    assert await analyze_import(ctx, import_id) == "ready"
    assert await _count(engine, f"SELECT count(*) FROM import_rows WHERE import_id = '{import_id}'") == 4
    imp = (await live_client.get(f"{url}/{import_id}", headers=headers)).json()
    assert (imp["progress"]["rows_done"], imp["progress"]["rows_total"]) == (4, 4)


async def test_a_finalize_job_reports_its_progress_to_the_job_console(
    live_client: httpx.AsyncClient, live_app: FastAPI, engine: AsyncEngine, run_worker: RunWorker, monkeypatch
) -> None:
    # rule O1: the finalize job reports each step as it ends; the console shows the last one and the result
    monkeypatch.setattr(get_settings(), "import_finalize_inline_rows", 2)
    url, headers = await _cast(live_app)
    upload = await live_client.post(url, files={"file": ("c.csv", gen.people_csv(3))}, headers=headers)
    await wait_relayed(engine)
    await run_worker()
    import_id = upload.json()["id"]
    await live_client.post(f"{url}/{import_id}/rows/selection", json={"classification": "new", "selected": True}, headers=headers)
    assert (await live_client.post(f"{url}/{import_id}/finalize", json={}, headers=headers)).status_code == 202
    await wait_relayed(engine)
    await run_worker()
    async with engine.connect() as conn:
        state, tries, progress, result = (await conn.execute(text(
            "SELECT state, tries, progress, result FROM outbox_jobs WHERE function = 'finalize_import'"
        ))).one()
    assert (state, tries, result) == ("done", 1, "finalized")
    assert progress["phase"] == "finalize" and progress["steps_done"] == progress["steps_total"] == 8
