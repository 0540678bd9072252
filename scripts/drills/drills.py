"""Reliability drills (issue 18; README "Reliability"): faults injected into a running stack, figures out.

    python scripts/drills/drills.py all                 # every drill, one after the other
    python scripts/drills/drills.py pg-stop pg-crash    # some of them

Drills: pg-stop (an administrator's shutdown), pg-crash (immediate stop: crash recovery), redis-restart
(Redis shut down and restarted empty while jobs wait in it), redis-freeze (SIGSTOP), kill-import and kill-finalize (the worker
SIGKILLed mid-analysis / mid-finalize of a 50,000-row import), kill-settlement (SIGKILL mid-settlement),
pool (both connection pools exhausted), shutdown (requests still running past the grace period).

Each drill starts its own PostgreSQL and Redis on free ports (never the machine's shared ones), the API
and a worker, runs a small load over loopback, prints its figures and exits non-zero when one misses its
goal: 0 writes lost or duplicated, 0 5xx other than 503, recovery within 5 s of the server returning,
0 jobs lost, duplicated or stuck. Run with the project's virtualenv python. DRILL_KEEP=1 keeps the
temporary directory (server and process logs) of each drill.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import csv
import io
import json
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drill_kit import Figures, Load, Outcome, Stack, stack, timed, wait_for  # noqa: E402

DOWN_S = 5.0  # how long a server stays away


# --- shared pieces -----------------------------------------------------------------------------------


async def connect(s: Stack) -> Any:
    import asyncpg

    return await asyncpg.connect(s.pg.url)


async def seed_practice(s: Stack, clients: int = 50) -> tuple[uuid.UUID, str]:
    """A solo practice with a few clients and its owner's login token (the import benchmark's seed)."""
    from bench_imports import seed

    return await seed(s.pg.url, clients)


def ops_for(group_id: uuid.UUID, token: str, *, login: bool = False) -> list[Any]:
    auth = {"Authorization": f"Bearer {token}"}

    async def signup(http: Any, i: int) -> Outcome:
        email = f"drill{i}-{uuid.uuid4().hex[:8]}@drill.example.com"
        body = {"email": email, "password": "a long enough password", "first_name": "Dri", "last_name": "Ll"}
        return await timed("signup", http.post("/v1/auth/signup", json=body), key=email)

    async def me(http: Any, i: int) -> Outcome:
        return await timed("me", http.get("/v1/me", headers=auth))

    async def clients(http: Any, i: int) -> Outcome:
        return await timed("clients", http.get(f"/v1/groups/{group_id}/clients", params={"limit": "20"}, headers=auth))

    async def log_in(http: Any, i: int) -> Outcome:
        form = {"username": f"nobody{i % 50}@drill.example.com", "password": "not the password at all"}
        return await timed("login", http.post("/v1/auth/token", data=form))

    return [signup, me, clients, *([log_in] if login else [])]


async def check_writes(s: Stack, figures: Figures, outcomes: list[Outcome]) -> None:
    """Every sign-up answered 202 is stored exactly once; a 503 changed nothing worth counting here."""
    accepted = [o.key for o in outcomes if o.op == "signup" and o.status == 202]
    conn = await connect(s)
    try:
        rows = await conn.fetch("SELECT lower(email) AS email, count(*) AS n FROM users WHERE lower(email) = ANY($1::text[]) "
                                "GROUP BY 1", [e.lower() for e in accepted])
    finally:
        await conn.close()
    found = {r["email"]: r["n"] for r in rows}
    figures.count("writes_checked", len(accepted), None)
    figures.count("writes_lost", sum(1 for e in accepted if e.lower() not in found))
    figures.count("writes_duplicated", sum(n - 1 for n in found.values()))


def mail_sends(s: Stack) -> collections.Counter[str]:
    """How many times the workers sent each message (their `mail_sent` log lines)."""
    sends: collections.Counter[str] = collections.Counter()
    path = s.root / "worker.log"
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        if '"mail_sent"' in line:
            with contextlib.suppress(ValueError):
                sends[json.loads(line)["mail_id"]] += 1
    return sends


async def check_jobs(s: Stack, figures: Figures, *, timeout: float = 120.0) -> None:
    """After the fault: every mail sent once, every outbox row done, within `timeout`."""
    async def settled() -> bool:
        conn = await connect(s)
        try:
            unsent = await conn.fetchval("SELECT count(*) FROM mail_messages WHERE sent_at IS NULL")
            not_done = await conn.fetchval("SELECT count(*) FROM outbox_jobs WHERE done_at IS NULL")
        finally:
            await conn.close()
        return unsent == 0 and not_done == 0

    waited = await wait_for(settled, timeout, step=0.5)
    conn = await connect(s)
    try:
        mails = await conn.fetchval("SELECT count(*) FROM mail_messages")
        unsent = await conn.fetchval("SELECT count(*) FROM mail_messages WHERE sent_at IS NULL")
        not_done = await conn.fetchval("SELECT count(*) FROM outbox_jobs WHERE done_at IS NULL")
    finally:
        await conn.close()
    sends = mail_sends(s)
    figures.count("jobs_checked (mails)", mails, None)
    figures.count("jobs_lost_or_stuck (mails unsent)", unsent)
    figures.count("outbox_rows_not_done", not_done)
    figures.count("jobs_duplicated (mails sent twice)", sum(n - 1 for n in sends.values()))
    figures.values["jobs_settled_after_s"] = None if waited is None else round(waited, 1)


# --- the drills --------------------------------------------------------------------------------------


async def postgres_outage(mode: str) -> int:
    figures = Figures(f"pg-{'stop' if mode == 'fast' else 'crash'} (PostgreSQL {mode} stop, {DOWN_S:.0f} s down)")
    with stack(figures.drill.split()[0], env={"LOG_LEVEL": "INFO"}) as s:
        group_id, token = await seed_practice(s)
        load = Load(s.base_url, ops_for(group_id, token))
        returned_at = 0.0

        async def scenario() -> None:
            nonlocal returned_at
            await asyncio.sleep(3)
            await asyncio.to_thread(s.pg.stop, mode)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(s.pg.start)
            returned_at = time.monotonic()
            await asyncio.sleep(8)

        await load.run_while(scenario())
        figures.requests(load.outcomes, returned_at=returned_at)
        await check_writes(s, figures, load.outcomes)
        await check_jobs(s, figures)
    return figures.report()


async def redis_restart_empty() -> int:
    figures = Figures(f"redis-restart (Redis shut down {DOWN_S:.0f} s, back empty, jobs waiting in it)")
    with stack("redis-restart", env={"LOG_LEVEL": "INFO"}) as s:
        group_id, token = await seed_practice(s)
        load = Load(s.base_url, ops_for(group_id, token, login=True))
        returned_at = 0.0
        assert s.worker is not None

        async def scenario() -> None:
            nonlocal returned_at
            await asyncio.sleep(2)
            s.worker.signal(signal.SIGSTOP)  # jobs relayed now wait in Redis, unrun
            await asyncio.sleep(2)
            await asyncio.to_thread(s.redis.stop)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(s.redis.start)
            returned_at = time.monotonic()
            s.worker.signal(signal.SIGCONT)
            await asyncio.sleep(8)

        await load.run_while(scenario())
        figures.requests(load.outcomes, returned_at=returned_at)
        await check_writes(s, figures, load.outcomes)
        await check_jobs(s, figures)
    return figures.report()


async def redis_frozen() -> int:
    figures = Figures(f"redis-freeze (Redis stopped with SIGSTOP for {DOWN_S:.0f} s: it accepts connections, answers nothing)")
    with stack("redis-freeze") as s:
        group_id, token = await seed_practice(s)
        load = Load(s.base_url, ops_for(group_id, token, login=True))
        returned_at = 0.0
        assert s.redis.process is not None

        async def scenario() -> None:
            nonlocal returned_at
            await asyncio.sleep(3)
            s.redis.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            await asyncio.sleep(DOWN_S)
            s.redis.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            returned_at = time.monotonic()
            await asyncio.sleep(8)

        await load.run_while(scenario())
        figures.requests(load.outcomes, returned_at=returned_at)
        frozen = [o for o in load.outcomes if o.ended > returned_at - DOWN_S and o.started < returned_at]
        slowest = max((o.ended - o.started for o in frozen), default=0.0)
        figures.values["slowest_request_during_freeze_s"] = round(slowest, 2)
        by_op: dict[str, float] = {}
        for o in frozen:
            by_op[o.op] = round(max(by_op.get(o.op, 0.0), o.ended - o.started), 2)
        figures.values["slowest_by_operation_s"] = by_op
        figures.goal(slowest < 4, "no request held more than 4 s by a frozen Redis")
        await check_writes(s, figures, load.outcomes)
        await check_jobs(s, figures)
    return figures.report()


async def bank_transfers(s: Stack) -> list[dict[str, Any]]:
    """Every transfer the simulated bank received (kept in Redis): a duplicate key is a payout sent twice."""
    from app.core.redis import connect as redis_connect
    from app.payouts.bank import SimulatedBank

    redis = await redis_connect(s.redis.url)
    try:
        return await SimulatedBank(redis).transfers()
    finally:
        await redis.aclose()


def import_csv(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["First Name", "Last Name", "Email", "Mobile Phone"])
    for i in range(rows):
        writer.writerow([f"New{i}", f"Person{i % 7000}", f"new{i}@drill.example.com", f"(212) 555-{i % 10000:04d}"])
    return out.getvalue().encode()


def sent_again_after(s: Stack, since: float) -> float | None:
    """Seconds from `since` (wall clock) to the sweeper's `import_job_sent_again` in the worker's log."""
    from datetime import datetime

    for line in (s.root / "worker.log").read_text(errors="replace").splitlines():
        if '"import_job_sent_again"' in line:
            with contextlib.suppress(ValueError, KeyError):
                at = datetime.fromisoformat(json.loads(line)["timestamp"].replace("Z", "+00:00")).timestamp()
                if at >= since:
                    return round(at - since, 1)
    return None


async def worker_killed_during_import(phase: str, rows: int = 50_000) -> int:
    figures = Figures(f"kill-{phase} (worker SIGKILLed mid-{'analysis' if phase == 'import' else 'finalize'}, {rows} rows)")
    import httpx

    with stack(f"kill-{phase}", env={"LOG_LEVEL": "INFO"}) as s:
        group_id, token = await seed_practice(s)
        auth = {"Authorization": f"Bearer {token}"}
        url = f"{s.base_url}/v1/groups/{group_id}/imports"
        assert s.worker is not None
        async with httpx.AsyncClient(timeout=60) as http:
            upload = await http.post(url, files={"file": ("clients.csv", import_csv(rows), "text/csv")}, headers=auth)
            assert upload.status_code == 202, upload.text
            import_id = upload.json()["id"]

            async def status() -> dict[str, Any]:
                return (await http.get(f"{url}/{import_id}", headers=auth)).json()

            async def state_is(*wanted: str) -> bool:
                return (await status())["status"] in wanted

            if phase == "import":
                async def analysing() -> bool:
                    body = await status()
                    return body["status"] == "analyzing" and body.get("progress", {}).get("rows_done", 1) >= 0

                assert await wait_for(analysing, 60, step=0.05) is not None, "the analysis never started"
                await asyncio.sleep(1.0)  # well inside it: parsing or writing rows
            else:
                assert await wait_for(lambda: state_is("ready"), 180) is not None, "the analysis did not finish"
                selection = await http.post(f"{url}/{import_id}/rows/selection",
                                            json={"classification": "new", "selected": True}, headers=auth)
                assert selection.status_code == 200, selection.text
                finalize = await http.post(f"{url}/{import_id}/finalize", json={}, headers=auth)
                assert finalize.status_code == 202, finalize.text

                async def finalizing_in_postgres() -> bool:
                    conn = await connect(s)
                    try:
                        return bool(await conn.fetchval(
                            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
                            "AND (query ILIKE '%import_people%' OR query ILIKE '%INSERT INTO users%')"))
                    finally:
                        await conn.close()

                # The job's own statements (not the request's count of selected rows): the worker is inside it.
                assert await wait_for(finalizing_in_postgres, 60, step=0.05) is not None, "the finalize never started"
            before = (await status())["status"]
            killed_wall = time.time()
            await asyncio.to_thread(s.worker.kill)
            s.start_worker()
            done = "ready" if phase == "import" else "finalized"
            took = await wait_for(lambda: state_is(done, "failed"), 120, step=0.2)
            final = await status()
        figures.values["status_when_killed"] = before
        figures.values["final_status"] = final["status"]
        figures.values["job_sent_again_after_s"] = sent_again_after(s, killed_wall)
        figures.values["taken_over_and_done_s"] = None if took is None else round(took, 1)
        figures.count("jobs_stuck", 0 if final["status"] == done else 1)
        figures.goal(took is not None and took <= 60, "done within a minute of the kill")
        conn = await connect(s)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM import_rows WHERE import_id = $1", uuid.UUID(import_id))
            dup_rows = await conn.fetchval("SELECT count(*) - count(DISTINCT line) FROM import_rows WHERE import_id = $1",
                                           uuid.UUID(import_id))
            clients = await conn.fetchval("SELECT count(*) FROM clients WHERE email LIKE '%@drill.example.com'")
            dup_clients = await conn.fetchval(
                "SELECT count(*) - count(DISTINCT lower(email)) FROM clients WHERE email LIKE '%@drill.example.com'")
            dup_users = await conn.fetchval(
                "SELECT count(*) - count(DISTINCT lower(email)) FROM users WHERE email LIKE '%@drill.example.com'")
        finally:
            await conn.close()
        figures.count("import_rows_lost", rows - stored)
        figures.count("import_rows_duplicated", dup_rows)
        if phase == "finalize":
            figures.count("clients_lost", rows - clients)
            figures.count("clients_or_accounts_duplicated", dup_clients + dup_users)
    return figures.report()


async def worker_killed_during_settlement(sessions: int = 20_000, groups: int = 100) -> int:
    figures = Figures(f"kill-settlement (worker SIGKILLed mid-settlement, {sessions} confirmed sessions)")
    # Small batches and a slow bank: the run takes long enough to be killed in the middle of it.
    env = {"SETTLEMENT_BATCH_SIZE": "20", "LOG_LEVEL": "INFO"}
    s = Stack("kill-settlement", env=env)
    try:
        s.start(worker=False)
        from bench_settlement import seed, verify

        await seed(s.pg.url, sessions, groups)
        s.start_worker()  # its startup runs the hourly settlement at once
        assert s.worker is not None

        async def progress() -> tuple[int, int]:
            conn = await connect(s)
            try:
                row = await conn.fetchrow("SELECT count(*) FILTER (WHERE status = 'paid') AS paid, count(*) AS total FROM payouts")
            finally:
                await conn.close()
            return row["paid"], row["total"]

        async def midway() -> bool:
            conn = await connect(s)
            try:
                moving = await conn.fetchval("SELECT count(*) FROM payouts WHERE status NOT IN ('accruing', 'paid')")
            finally:
                await conn.close()
            return moving > 0

        assert await wait_for(midway, 120, step=0.05) is not None, "settlement never started"
        paid_before, total = await progress()
        conn = await connect(s)
        try:
            moving = await conn.fetchval("SELECT count(*) FROM payouts WHERE status NOT IN ('accruing', 'paid')")
        finally:
            await conn.close()
        await asyncio.to_thread(s.worker.kill)
        s.start_worker()

        async def all_paid() -> bool:
            return (await verify(s.pg.url))["unpaid"] == 0

        took = await wait_for(all_paid, 180, step=0.5)
        result = await verify(s.pg.url)
        transfers = await bank_transfers(s)
        figures.values["payouts"] = total
        figures.values["paid_when_killed"] = paid_before
        figures.values["in_progress_when_killed"] = moving
        figures.values["all_paid_after_s"] = None if took is None else round(took, 1)
        figures.count("payouts_unpaid (stuck)", result["unpaid"])
        figures.count("payouts_wrong_sum", result["wrong_sums"])
        keys = collections.Counter(t["key"] for t in transfers)
        figures.count("transfers_duplicated", sum(n - 1 for n in keys.values()))
        money_out = sum(t["amount_cents"] for t in transfers)
        figures.values["money_out_cents"] = money_out
        figures.values["paid_total_cents"] = result["paid_total"]
        figures.goal(money_out == result["paid_total"] == result["lines_total"], "money out = sum paid = sum earned")
    finally:
        s.close(keep=False)
    return figures.report()


async def pools_exhausted() -> int:
    figures = Figures("pool (both pools exhausted: every request waits on a locked table for 6 s)")
    # Small pools (the load alone fits them: a sign-up holds its connection about a second on this machine
    # while hashing), short waits: while the table is locked every request holds its connection, waiting.
    env = {"DB_POOL_SIZE": "5", "DB_MAX_OVERFLOW": "0", "AUTH_POOL_SIZE": "3", "DB_POOL_TIMEOUT_S": "1",
           "AUTH_POOL_TIMEOUT_S": "1"}
    with stack("pool", env=env) as s:
        group_id, token = await seed_practice(s)
        load = Load(s.base_url, ops_for(group_id, token), clients=8, pause_s=0.05)
        returned_at = 0.0

        async def scenario() -> None:
            nonlocal returned_at
            await asyncio.sleep(2)
            conn = await connect(s)
            try:
                async with conn.transaction():
                    # Sign-ups and the authentication lookup read users: each holds a pooled connection, waiting.
                    await conn.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
                    await asyncio.sleep(6)
            finally:
                await conn.close()
            returned_at = time.monotonic()
            await asyncio.sleep(6)

        await load.run_while(scenario())
        figures.requests(load.outcomes, returned_at=returned_at)
        busy = sum(1 for o in load.outcomes if o.code == "database_busy")
        figures.values["answered_database_busy"] = busy
        figures.goal(busy > 0, "the pools were exhausted (some 503 database_busy)")
        await check_writes(s, figures, load.outcomes)
    return figures.report()


async def shutdown_past_grace() -> int:
    figures = Figures("shutdown (SIGTERM with requests still running past a 2 s grace period)")
    import httpx

    with stack("shutdown", env={"SHUTDOWN_GRACE_S": "2"}) as s:
        assert s.api is not None
        conn = await connect(s)
        outcomes: list[Outcome] = []
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")  # the sign-ups below wait on it
                async with httpx.AsyncClient(base_url=s.base_url, timeout=30) as http:
                    ops = ops_for(uuid.uuid4(), "cls_none")
                    pending = [asyncio.create_task(ops[0](http, i)) for i in range(8)]
                    await asyncio.sleep(1)
                    s.api.signal(signal.SIGTERM)
                    outcomes = list(await asyncio.gather(*pending))
        finally:
            await conn.close()
        await asyncio.to_thread(s.api.process.wait, 30)  # type: ignore[union-attr]
        figures.requests(outcomes, returned_at=None)
        figures.count("answered_503_shutting_down", sum(1 for o in outcomes if o.code == "shutting_down"), len(outcomes))
        await check_writes(s, figures, outcomes)
    return figures.report()


DRILLS = {
    "pg-stop": lambda: postgres_outage("fast"),
    "pg-crash": lambda: postgres_outage("immediate"),
    "redis-restart": redis_restart_empty,
    "redis-freeze": redis_frozen,
    "kill-import": lambda: worker_killed_during_import("import"),
    "kill-finalize": lambda: worker_killed_during_import("finalize"),
    "kill-settlement": worker_killed_during_settlement,
    "pool": pools_exhausted,
    "shutdown": shutdown_past_grace,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("drills", nargs="+", choices=[*DRILLS, "all"])
    names = parser.parse_args(argv).drills
    names = list(DRILLS) if "all" in names else names
    failed = []
    for name in names:
        if asyncio.run(DRILLS[name]()) != 0:
            failed.append(name)
    print(f"\n{len(names) - len(failed)} of {len(names)} drills met every goal" + (f"; missed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
