"""Settlement at scale: 1,000,000 confirmed sessions and their earning lines across 2,000 groups.

One run does everything: a scratch database (dropped and created WITH (FORCE), migrated), the data
generated in set-based SQL (INSERT ... SELECT generate_series: nothing passes through Python) the way
the app leaves it (app/payouts/earnings.py): every line in its group's `accruing` payout for its
period, each payout holding the sum of its lines. Then, in the same run:
  (a) one hand-written SQL statement computing the per-payee (group, period) totals settlement pays;
  (b) the whole settlement (close the due payouts, prove each amount against the sum of its lines,
      transfers through the simulated bank with zero settle delay, polls), in a child process so its
      peak RSS can be read (RUSAGE_CHILDREN).
Goal (issue 6): (b) within 2x of (a). Settlement must not load lines into Python: its peak RSS must
stay flat whatever the line count.

    python scripts/bench/bench_settlement.py [--sessions 1000000] [--groups 2000] [--batch-size 1000] [--keep-db]

Needs DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/test) and REDIS_URL (the
simulated bank's keys go to Redis database 14 by default, and are deleted before the run).
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE))

import harness  # noqa: E402

PROVIDERS_PER_GROUP = 4
CLIENTS_PER_GROUP = 25
FIRST_CONFIRMATION = date(2026, 1, 1)
CONFIRMATION_DAYS = 180  # about twelve pay periods, all due


# P3 in SQL for the bench's sessions (the app computes it in app/payouts/schedule.py): confirmed on the
# 1st-15th (local day) -> the last day of the month, else the 15th of the next month.
_LOCAL_DAY = "(s.confirmed_at AT TIME ZONE g.time_zone)::date"
PERIOD_OF_SESSION = f"""(CASE WHEN extract(day FROM {_LOCAL_DAY}) <= 15
                   THEN (date_trunc('month', {_LOCAL_DAY}) + interval '1 month - 1 day')::date
                   ELSE (date_trunc('month', {_LOCAL_DAY}) + interval '1 month 14 days')::date END)"""
AMOUNT_OF_SESSION = "(9000 + (hashtext(s.id::text) & 32767))"


def generate_sql(sessions: int, groups: int) -> list[tuple[str, str]]:
    per_group = sessions // groups
    return [
        ("groups", f"""
            INSERT INTO groups (id, name, time_zone)
            SELECT gen_random_uuid(), 'Bench group ' || g,
                   (ARRAY['America/New_York','America/Chicago','America/Los_Angeles','Pacific/Honolulu'])[1 + g % 4]
              FROM generate_series(1, {groups}) g"""),
        ("numbered groups", """
            CREATE TEMP TABLE bench_groups AS SELECT id, row_number() OVER (ORDER BY id) AS n FROM groups"""),
        ("users (providers)", f"""
            INSERT INTO users (id, email, first_name, last_name)
            SELECT gen_random_uuid(), 'p' || g.n || '-' || p || '@bench.example', 'Pro' || p, 'Vider' || g.n
              FROM bench_groups g, generate_series(1, {PROVIDERS_PER_GROUP}) p"""),
        ("providers", """
            CREATE TEMP TABLE bench_providers AS
            SELECT g.id AS group_id, u.id AS user_id, row_number() OVER (PARTITION BY g.id ORDER BY u.id) - 1 AS k
              FROM bench_groups g JOIN users u ON u.last_name = 'Vider' || g.n"""),
        ("users (clients)", f"""
            INSERT INTO users (id, email, first_name, last_name)
            SELECT gen_random_uuid(), 'c' || g.n || '-' || c || '@bench.example', 'Cli' || c, 'Ent' || g.n
              FROM bench_groups g, generate_series(1, {CLIENTS_PER_GROUP}) c"""),
        ("clients", """
            INSERT INTO clients (id, group_id, user_id, first_name, last_name, email, billing_type)
            SELECT gen_random_uuid(), g.id, u.id, u.first_name, u.last_name, u.email, 'private_pay'
              FROM bench_groups g JOIN users u ON u.last_name = 'Ent' || g.n"""),
        ("numbered clients", """
            CREATE TEMP TABLE bench_clients AS
            SELECT group_id, id AS client_id, row_number() OVER (PARTITION BY group_id ORDER BY id) - 1 AS k FROM clients"""),
        ("bank accounts", """
            INSERT INTO bank_accounts (group_id, account_holder_name, routing_number, account_number_encrypted, account_last4, account_type)
            SELECT id, 'Owner ' || n, '011000015', :account, '6789', 'checking' FROM bench_groups"""),
        # Settlement never reads sessions; their GiST exclusion constraints (S2, S7) made inserting a
        # million rows take over ten minutes on the 2-core machine, so the scratch database goes without.
        ("drop S2 constraints", """
            ALTER TABLE sessions DROP CONSTRAINT ex_sessions_provider_overlap, DROP CONSTRAINT ex_sessions_client_overlap,
                                 DROP CONSTRAINT ex_sessions_person_overlap"""),
        # Session i of a group: provider i % 4, client i % 25, its own hour (no overlaps, S2), confirmed
        # an hour after it starts, spread over six months.
        ("sessions", f"""
            INSERT INTO sessions (id, group_id, provider_user_id, client_id, kind, starts_at, duration_minutes, ends_at,
                                  telehealth, status, confirmed_at, service_date, service_code)
            SELECT gen_random_uuid(), g.id, p.user_id, c.client_id, 'therapy', s.starts_at, 50,
                   s.starts_at + interval '50 minutes', true, 'confirmed', s.starts_at + interval '1 hour',
                   s.starts_at::date, '90837'
              FROM bench_groups g
              CROSS JOIN LATERAL (
                  SELECT i, timestamptz '{FIRST_CONFIRMATION.isoformat()} 00:00+00'
                            + make_interval(hours => (i * {CONFIRMATION_DAYS * 24} / {per_group})::int) + make_interval(secs => g.n % 3600) AS starts_at
                    FROM generate_series(0, {per_group - 1}) i
              ) s
              JOIN bench_providers p ON p.group_id = g.id AND p.k = s.i % {PROVIDERS_PER_GROUP}
              JOIN bench_clients c ON c.group_id = g.id AND c.k = s.i % {CLIENTS_PER_GROUP}"""),
        # What earnings.record_line leaves behind, set-based: one accruing payout per (group, period)
        # holding the sum of its lines, then the lines pointing at it. A line's amount is a function
        # of its session id, so both statements compute the same amounts.
        ("payouts (accruing)", f"""
            INSERT INTO payouts (id, group_id, period_date, pay_date, arrives_earliest, arrives_latest, amount_cents, status)
            SELECT gen_random_uuid(), x.group_id, cal.period_date, cal.pay_date, cal.pay_date, cal.arrives_latest, x.total, 'accruing'
              FROM (SELECT s.group_id, {PERIOD_OF_SESSION} AS period_date, sum({AMOUNT_OF_SESSION}) AS total
                      FROM sessions s JOIN groups g ON g.id = s.group_id
                     GROUP BY 1, 2) x
              JOIN bench_calendar cal ON cal.period_date = x.period_date"""),
        ("earning lines", f"""
            INSERT INTO earning_lines (id, group_id, session_id, kind, provider_user_id, client_id, service_code, billing_type,
                                       amount_cents, earned_at, period_date, pay_date, payout_id)
            SELECT gen_random_uuid(), s.group_id, s.id, 'session', s.provider_user_id, s.client_id, s.service_code,
                   'private_pay', {AMOUNT_OF_SESSION}, s.confirmed_at, p.period_date, p.pay_date, p.id
              FROM sessions s
              JOIN groups g ON g.id = s.group_id
              JOIN payouts p ON p.group_id = s.group_id AND p.period_date = {PERIOD_OF_SESSION}"""),
        ("analyze", "ANALYZE"),
    ]


# What settlement pays, by hand: per payee (group) and period, the sum of the lines whose pay date has
# come in the group's time zone (none is paid yet in the generated data).
TOTALS_SQL = """
SELECT l.group_id, l.period_date, sum(l.amount_cents) AS total, count(*) AS lines
  FROM earning_lines l JOIN groups g ON g.id = l.group_id
 WHERE l.pay_date <= (now() AT TIME ZONE g.time_zone)::date
 GROUP BY l.group_id, l.period_date
"""


def calendar_rows(first: date, last: date) -> list[tuple[date, date, date]]:
    """(period date, pay date, latest arrival) of every period in [first, last] (P3, P4)."""
    from app.payouts.earnings import next_period_date
    from app.payouts.schedule import arrival_window

    current = first.replace(day=15) if first.day <= 15 else first.replace(day=calendar.monthrange(first.year, first.month)[1])
    rows = []
    while current <= last:
        rows.append((current, *arrival_window(current)))
        current = next_period_date(current)
    return rows


async def drop_secondary_structures(conn, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' foreign keys and non-primary-key indexes; return the statements that remake them."""
    remake: list[str] = []
    for table in tables:
        fks = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'", table
        )
        indexes = await conn.fetch(
            """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
                 FROM pg_index i WHERE i.indrelid = $1::regclass AND NOT i.indisprimary
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            table,
        )
        for fk in fks:
            await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{fk["conname"]}"')
            remake.append(f'ALTER TABLE {table} ADD CONSTRAINT "{fk["conname"]}" {fk["def"]}')
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['name']}")
            remake.insert(0, index["def"])  # indexes first: they serve the foreign keys' checks
    return remake


async def seed(url: str, sessions: int, groups: int) -> dict[str, float]:
    import asyncpg

    from app.core import crypto
    from app.payouts.settlement import BANK_ACCOUNT_NUMBER

    timings = {}
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TEMP TABLE bench_calendar (period_date date PRIMARY KEY, pay_date date, arrives_latest date)")
        await conn.executemany("INSERT INTO bench_calendar VALUES ($1, $2, $3)", calendar_rows(date(2025, 12, 1), date(2026, 8, 31)))
        account = crypto.encrypt("000123456789", purpose=BANK_ACCOUNT_NUMBER)
        # Bulk loading: the two big tables' secondary indexes and foreign keys are dropped before their
        # INSERTs and made again after (one index build, one validating join per key): the same end
        # state as row-by-row inserts, minutes faster at a million rows.
        rebuild: list[str] = []
        for label, sql in generate_sql(sessions, groups):
            started = time.perf_counter()
            if label == "sessions":
                rebuild = await drop_secondary_structures(conn, ("sessions", "earning_lines"))
            if ":account" in sql:
                await conn.execute(sql.replace(":account", "$1"), account)
            else:
                await conn.execute(sql)
            if label == "earning lines":
                for statement in rebuild:
                    await conn.execute(statement)
            timings[label] = time.perf_counter() - started
            print(f"  seeded {label:<20} {timings[label]:7.2f} s", flush=True)
    finally:
        await conn.close()
    return timings


async def hand_written(url: str, runs: int = 3) -> tuple[list[float], int, int]:
    """The statement's times over `runs` runs (the best is the bar: the strictest comparison)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    times = []
    try:
        for _ in range(runs):
            started = time.perf_counter()
            rows = await conn.fetch(TOTALS_SQL)
            times.append(time.perf_counter() - started)
    finally:
        await conn.close()
    return times, len(rows), sum(r["total"] for r in rows)


CHILD = r"""
import asyncio, json, os, resource, sys, time
from app.config import get_settings
from app.core.db import Database
from app.core.redis import connect
from app.payouts.bank import SimulatedBank
from app.payouts.settlement import settle

async def main():
    settings = get_settings()
    database = Database(os.environ["DATABASE_URL"], settings)
    redis = await connect(os.environ["REDIS_URL"])
    started = time.perf_counter()
    result = await settle(database.sessionmaker, SimulatedBank(redis, settle_seconds=0), batch_size=int(os.environ["BENCH_BATCH"]))
    elapsed = time.perf_counter() - started
    await redis.aclose()
    await database.close()
    print(json.dumps({"elapsed_s": elapsed, "result": result.as_dict(),
                      "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))

asyncio.run(main())
"""


async def verify(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM earning_lines l JOIN payouts p ON p.id = l.payout_id WHERE p.status <> 'paid') AS unpaid,
                      (SELECT count(*) FROM payouts) AS payouts,
                      (SELECT count(*) FROM payouts WHERE status = 'paid') AS paid,
                      (SELECT sum(amount_cents) FROM payouts) AS paid_total,
                      (SELECT sum(amount_cents) FROM earning_lines) AS lines_total,
                      (SELECT count(*) FROM payouts p WHERE p.amount_cents <>
                           (SELECT sum(amount_cents) FROM earning_lines l WHERE l.payout_id = p.id)) AS wrong_sums"""
        )
    finally:
        await conn.close()
    return dict(row)


async def clear_bank(redis_url: str) -> None:
    from app.core.redis import connect

    redis = await connect(redis_url)
    try:
        keys = [key async for key in redis.scan_iter(match="caseload:bank-sim:*", count=5000)]
        for start in range(0, len(keys), 5000):
            await redis.delete(*keys[start : start + 5000])
    finally:
        await redis.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=2_000)
    parser.add_argument("--database-name", default="caseload_bench_settlement")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--batch-size", type=int, default=1000, help="payouts per transaction and bank call (send, poll)")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL", harness.DEFAULT_SERVER_URL)
    redis_url = args.redis_url.rsplit("/", 1)[0] + "/14" if args.redis_url.startswith("redis://") else args.redis_url

    with harness.scratch_database(server_url, args.database_name, keep=args.keep_db) as db_url:
        from app.cli import migrate

        migrate(db_url)
        print(f"Generating {args.sessions:,} confirmed sessions and earning lines across {args.groups:,} groups", flush=True)
        started = time.perf_counter()
        asyncio.run(seed(db_url, args.sessions, args.groups))
        print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
        asyncio.run(clear_bank(redis_url))

        statement_times, payees, total = asyncio.run(hand_written(db_url))
        statement_s = min(statement_times)
        print(f"\n(a) hand-written statement: {payees:,} (group, period) totals, {total:,} cents in {statement_s:.2f} s "
              f"(best of {', '.join(f'{t:.2f}' for t in statement_times)} s)", flush=True)

        env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING", BENCH_BATCH=str(args.batch_size))
        wall = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, cwd=str(HERE.parent.parent))
        wall = time.perf_counter() - wall
        if child.returncode != 0:
            sys.exit(child.stderr)
        report = json.loads(child.stdout.strip().splitlines()[-1])
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = report["result"]
        timings = result.pop("timings")
        print(
            f"(b) settlement (child process): {report['elapsed_s']:.2f} s in settle() "
            f"[close + verify {timings['build_s']:.2f} s, send {timings['send_s']:.2f} s, poll {timings['poll_s']:.2f} s, "
            f"returns {timings.get('returns_s', 0):.2f} s], "
            f"{wall:.2f} s with interpreter start-up"
        )
        print(f"    peak RSS of the child: {peak_kb / 1024:.0f} MiB (ru_maxrss, RUSAGE_CHILDREN)")
        print(f"    {json.dumps(result)}")
        build_ratio = timings["build_s"] / statement_s
        total_ratio = report["elapsed_s"] / statement_s
        print(f"\nclose + verify / statement = {build_ratio:.2f}x; whole settlement / statement = {total_ratio:.2f}x (goal: <= 2x)")
        checks = asyncio.run(verify(db_url))
        print(f"checks: {checks}")
        ok = checks["unpaid"] == 0 and checks["wrong_sums"] == 0 and checks["paid_total"] == checks["lines_total"] == total
        print("every line paid exactly once, every payout the exact sum of its lines" if ok else "CHECKS FAILED")
        print(f"(machine: {harness.CORES} cores; load average {os.getloadavg()[0]:.2f} at the end of the run)")


if __name__ == "__main__":
    main()
