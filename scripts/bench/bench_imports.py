"""Client imports at 100,000 rows (rules I5, I8): analysis time, finalize time, worker memory.

Goals (the issue), against a group that already has 100,000 clients:
  1. upload of a generated 100,000-row CSV -> `ready` in at most 5 s;
  2. finalize of its 100,000 new clients in at most 10 s;
  3. worker peak RSS under 300 MB while analysing (the jobs run in a separate worker process, started and
     warmed up once as `caseload worker` is; its ru_maxrss, and separately that of the parser's own child);
  4. a 100,000-row .xlsx analysed in at most 10 s;
  5. undo of the finalized 100,000-client import (rule I14: its clients, accounts, roster entries and invitations
     deleted) in at most 10 s (the request, in process).

A scratch database (dropped and created WITH (FORCE), migrated, seeded with COPY), the app in process for the
upload and the review calls (httpx ASGITransport, real lifespan), the jobs in one separate worker process.
"upload -> ready" is the upload request plus the analysis job (the after-commit relay to Redis, milliseconds,
is left out). Each job reports where its time went (parse / candidates / classify / write; finalize per statement).

  . .venv/bin/activate
  python scripts/bench/bench_imports.py             # REDIS_URL defaults to redis://127.0.0.1:6379/0
Exit status: 0 when the goals are met, 3 when one is not.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

ROWS = 100_000
GOALS = {"csv_ready_s": 5.0, "finalize_s": 10.0, "rss_mb": 300.0, "xlsx_ready_s": 10.0, "undo_s": 10.0}


def _env(db_url: str, files: Path) -> None:
    os.environ.update(DATABASE_URL=db_url, REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                      FILES_DIR=str(files), LOG_LEVEL="WARNING", MAIL_BACKEND="log")


async def seed(url: str, clients: int) -> tuple[uuid.UUID, str]:
    """A solo practice (the owner provides) with `clients` clients on its roster; returns the group and a token."""
    import asyncpg

    from bench_members import new_session_token, token_hash

    group_id, owner_id = uuid.uuid4(), uuid.uuid4()
    users = [(owner_id, "owner@bench.example.com", "Olive", "Owner")]
    client_rows, roster = [], []
    for i in range(clients):
        uid, cid = uuid.uuid4(), uuid.uuid4()
        users.append((uid, f"existing{i}@bench.example.com", f"Given{i}", f"Family{i % 5000}"))
        client_rows.append((cid, group_id, uid, f"Given{i}", f"Family{i % 5000}", f"existing{i}@bench.example.com",
                            "private_pay"))
        roster.append((uuid.uuid4(), group_id, cid, owner_id))
    token = new_session_token()
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO groups (id, name) VALUES ($1, 'Bench Practice')", group_id)
            await conn.copy_records_to_table("users", columns=["id", "email", "first_name", "last_name"], records=users)
            await conn.execute("INSERT INTO memberships (id, group_id, user_id, is_owner, is_admin, is_provider) "
                               "VALUES ($1, $2, $3, true, true, true)", uuid.uuid4(), group_id, owner_id)
            await conn.copy_records_to_table(
                "clients", columns=["id", "group_id", "user_id", "first_name", "last_name", "email", "billing_type"],
                records=client_rows)
            await conn.copy_records_to_table(
                "roster_entries", columns=["id", "group_id", "client_id", "provider_user_id"], records=roster)
            await conn.execute("INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) "
                               "VALUES ($1, $2, $3, now() + interval '12 hours')", uuid.uuid4(), owner_id, token_hash(token))
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return group_id, token


def import_rows(count: int, tag: str) -> list[list[str]]:
    """New people (no client shares their email or name), with US phones in assorted spellings."""
    rows = [["First Name", "Last Name", "Email", "Mobile Phone"]]
    spellings = ("(212) 555-{:04d}", "212-555-{:04d}", "+1 212 555 {:04d}", "2125550{:03d}")
    for i in range(count):
        rows.append([f"New{tag}{i}", f"Person{i % 7000}", f"new{tag}{i}@bench.example.com",
                     spellings[i % 4].format(i % 1000 if i % 4 == 3 else i % 10000)])
    return rows


# --- a worker process: started once (as `caseload worker` is), then runs the jobs it is sent ----------


def _worker_process(db_url: str, files: str, inbox: multiprocessing.Queue, out: multiprocessing.Queue) -> None:
    _env(db_url, Path(files))

    async def serve() -> None:
        from app.config import get_settings
        from app.imports import analysis, finalize
        from app.worker import WorkerSettings, shutdown, startup

        from arq import create_pool

        from app.core.redis import redis_settings

        # arq puts its Redis pool in the context before startup; the worker's startup expects it there.
        ctx: dict = {"settings": get_settings(), "redis": await create_pool(redis_settings(get_settings().redis_url))}
        await startup(ctx)
        jobs = {getattr(f, "__name__", ""): f for f in WorkerSettings.functions}
        # Warm up as a running worker is: the parser's fork server started, its modules loaded.
        warm = Path(files) / "warm.csv"
        warm.write_bytes(b"First Name,Last Name,Email\nA,B,a@b.example.com\n")
        await analysis.parse_in_child(str(warm), None, get_settings().import_parser_memory_bytes)
        out.put({"ready": True})
        try:
            while (message := await asyncio.to_thread(inbox.get)) is not None:
                function, import_id = message
                started = time.perf_counter()
                result = await jobs[function](ctx, import_id)
                out.put({"result": result, "seconds": time.perf_counter() - started,
                         "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                         "parser_rss_mb": analysis.last_parser_peak_kb / 1024, "phases": dict(analysis.last_timings if function == "analyze_import" else finalize.last_timings)})
        finally:
            await shutdown(ctx)

    asyncio.run(serve())


class Worker:
    def __init__(self, db_url: str, files: Path) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.inbox: multiprocessing.Queue = ctx.Queue()
        self.out: multiprocessing.Queue = ctx.Queue()
        self.process = ctx.Process(target=_worker_process, args=(db_url, str(files), self.inbox, self.out))
        self.process.start()
        assert self.out.get(timeout=120)["ready"]

    def run(self, function: str, import_id: str) -> dict:
        self.inbox.put((function, import_id))
        return self.out.get(timeout=600)

    def stop(self) -> None:
        self.inbox.put(None)
        self.process.join(timeout=30)


async def scenario(db_url: str, files: Path, group_id: uuid.UUID, token: str, rows: int) -> dict[str, float]:
    import httpx

    from app.main import create_app
    from tests.imports import fixtures_gen as gen

    figures: dict[str, float] = {}
    worker = await asyncio.to_thread(Worker, db_url, files)
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
            url = f"/v1/groups/{group_id}/imports"
            for kind in ("csv", "xlsx"):
                data = gen.csv_bytes(import_rows(rows, kind)) if kind == "csv" else gen.xlsx_bytes([("Clients", import_rows(rows, kind))])
                print(f"{kind}: {len(data) / 2**20:.1f} MiB, {rows:,} rows", flush=True)
                started = time.perf_counter()
                upload = await http.post(url, files={"file": (f"clients.{kind}", data)}, headers=headers)
                assert upload.status_code == 202, upload.text
                uploaded = time.perf_counter() - started
                job = await asyncio.to_thread(worker.run, "analyze_import", upload.json()["id"])
                total = time.perf_counter() - started
                imp = (await http.get(f"{url}/{upload.json()['id']}", headers=headers)).json()
                assert imp["status"] == "ready", imp
                assert imp["counts"]["new"] == rows, imp["counts"]
                print(f"  upload {uploaded:.2f} s; analysis job {job['seconds']:.2f} s; "
                      f"upload -> ready {total:.2f} s; job RSS {job['rss_mb']:.0f} MB, parser child RSS "
                      f"{job['parser_rss_mb']:.0f} MB; phases (s) {job['phases']}", flush=True)
                figures[f"{kind}_ready_s"] = total
                figures[f"{kind}_rss_mb"] = job["rss_mb"]
                figures[f"{kind}_parser_rss_mb"] = job["parser_rss_mb"]
                if kind == "csv":
                    csv_import = upload.json()["id"]
            selection = await http.post(f"{url}/{csv_import}/rows/selection", json={"classification": "new", "selected": True},
                                        headers=headers)
            assert selection.json()["counts"]["selected"] == rows
            started = time.perf_counter()
            queued = await http.post(f"{url}/{csv_import}/finalize", json={}, headers=headers)
            assert queued.status_code == 202, queued.text
            job = await asyncio.to_thread(worker.run, "finalize_import", csv_import)
            figures["finalize_s"] = time.perf_counter() - started
            done = (await http.get(f"{url}/{csv_import}", headers=headers)).json()
            assert done["status"] == "finalized" and done["result"]["clients_imported"] == rows, done
            print(f"finalize: {figures['finalize_s']:.2f} s (job {job['seconds']:.2f} s); result {done['result']}; "
                  f"job RSS {job['rss_mb']:.0f} MB; statements (s) {job['phases']}", flush=True)
            figures["finalize_rss_mb"] = job["rss_mb"]
            from app.imports import undo

            started = time.perf_counter()
            undone = await http.post(f"{url}/{csv_import}/undo", headers=headers)
            figures["undo_s"] = time.perf_counter() - started
            assert undone.status_code == 200 and undone.json()["undo"]["clients_removed"] == rows, (undone.status_code, undone.text[:300])
            print(f"undo: {figures['undo_s']:.2f} s; {undone.json()['undo']}; statements (s) {undo.last_timings}", flush=True)
    worker.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--clients", type=int, default=ROWS, help="existing clients of the group")
    parser.add_argument("--database-name", default="caseload_bench_imports")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    server_url = os.environ.get("BENCH_DATABASE_URL", harness.DEFAULT_SERVER_URL)
    with harness.scratch_database(server_url, args.database_name, keep=args.keep_db) as db_url, \
            tempfile.TemporaryDirectory(prefix="bench-imports-") as files:
        _env(db_url, Path(files))
        from app.cli import migrate

        migrate(db_url)
        print(f"seeding {args.clients:,} existing clients ...", flush=True)
        started = time.perf_counter()
        group_id, token = asyncio.run(seed(db_url, args.clients))
        print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
        figures = asyncio.run(scenario(db_url, Path(files), group_id, token, args.rows))
    rss = max(figures["csv_rss_mb"], figures["xlsx_rss_mb"])
    checks = [
        ("CSV upload -> ready", figures["csv_ready_s"], GOALS["csv_ready_s"], "s"),
        ("finalize 100k new clients", figures["finalize_s"], GOALS["finalize_s"], "s"),
        ("worker peak RSS (analysis job process)", rss, GOALS["rss_mb"], "MB"),
        ("xlsx upload -> ready", figures["xlsx_ready_s"], GOALS["xlsx_ready_s"], "s"),
        ("undo of the 100k-client import", figures["undo_s"], GOALS["undo_s"], "s"),
    ]
    print(f"\n{os.cpu_count()} cores (shared: other work may run on this machine); {args.rows:,} rows, "
          f"{args.clients:,} existing clients")
    met = True
    for name, value, goal, unit in checks:
        ok = value <= goal
        met &= ok
        print(f"  {name:42s} {value:8.2f} {unit}   goal <= {goal:g} {unit}   {'OK' if ok else 'MISSED'}")
    print(f"  parser child peak RSS: csv {figures['csv_parser_rss_mb']:.0f} MB, xlsx {figures['xlsx_parser_rss_mb']:.0f} MB "
          f"(separate process, address space capped)")
    return 0 if met else 3


if __name__ == "__main__":
    sys.exit(main())
