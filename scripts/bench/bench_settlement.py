"""Settlement at scale: 1,000,000 confirmed sessions and their earning lines across 2,000 groups.

One run does everything: a scratch database (dropped and created WITH (FORCE), migrated), the data
generated in set-based SQL (INSERT ... SELECT generate_series: nothing passes through Python), then,
in the same run:
  (a) one hand-written SQL statement computing the per-payee (group, period) totals settlement pays;
  (b) the settlement itself (payout creation, attaching, amounts; transfers through the simulated bank
      with zero settle delay), in a child process so its peak RSS can be read (RUSAGE_CHILDREN).
Settlement must not load lines into Python: its peak RSS must stay flat whatever the line count.

    python scripts/bench/bench_settlement.py [--sessions 1000000] [--groups 2000] [--keep-db]

Needs DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/test) and REDIS_URL (the
simulated bank's keys go to Redis database 14 by default, and are deleted before the run).
"""

from __future__ import annotations

import argparse
import asyncio
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
        ("providers", f"""
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
        # Settlement never reads sessions; their two GiST exclusion constraints (S2) made inserting a
        # million rows take over ten minutes on the 2-core machine, so the scratch database goes without.
        ("drop S2 constraints", """
            ALTER TABLE sessions DROP CONSTRAINT ex_sessions_provider_overlap, DROP CONSTRAINT ex_sessions_client_overlap"""),
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
        ("earning lines", """
            INSERT INTO earning_lines (id, group_id, session_id, kind, provider_user_id, client_id, service_code, billing_type,
                                       amount_cents, earned_at, period_date, pay_date)
            SELECT gen_random_uuid(), s.group_id, s.id, 'session', s.provider_user_id, s.client_id, s.service_code,
                   'private_pay', 9000 + (hashtext(s.id::text) & 32767), s.confirmed_at, cal.period_date, cal.pay_date
              FROM sessions s
              JOIN groups g ON g.id = s.group_id
              CROSS JOIN LATERAL (SELECT (s.confirmed_at AT TIME ZONE g.time_zone)::date AS local_day) d
              JOIN bench_calendar cal
                ON cal.period_date = CASE WHEN extract(day FROM d.local_day) <= 15
                                          THEN (date_trunc('month', d.local_day) + interval '1 month - 1 day')::date
                                          ELSE (date_trunc('month', d.local_day) + interval '1 month 14 days')::date END"""),
        ("analyze", "ANALYZE"),
    ]


TOTALS_SQL = """
SELECT l.group_id, l.period_date, sum(l.amount_cents) AS total, count(*) AS lines
  FROM earning_lines l JOIN groups g ON g.id = l.group_id
 WHERE l.payout_id IS NULL AND l.pay_date <= (now() AT TIME ZONE g.time_zone)::date
 GROUP BY l.group_id, l.period_date
"""


async def seed(url: str, sessions: int, groups: int) -> dict[str, float]:
    import asyncpg

    from app.core import crypto
    from app.payouts.settlement import BANK_ACCOUNT_NUMBER, period_calendar

    timings = {}
    conn = await asyncpg.connect(url)
    try:
        periods, pays, _ = period_calendar(date(2025, 12, 1), date(2026, 8, 31))
        await conn.execute("CREATE TEMP TABLE bench_calendar (period_date date PRIMARY KEY, pay_date date)")
        await conn.executemany("INSERT INTO bench_calendar VALUES ($1, $2)", list(zip(periods, pays)))
        account = crypto.encrypt("000123456789", purpose=BANK_ACCOUNT_NUMBER)
        for label, sql in generate_sql(sessions, groups):
            started = time.perf_counter()
            if ":account" in sql:
                await conn.execute(sql.replace(":account", "$1"), account)
            else:
                await conn.execute(sql)
            timings[label] = time.perf_counter() - started
            print(f"  seeded {label:<20} {timings[label]:7.2f} s", flush=True)
    finally:
        await conn.close()
    return timings


async def hand_written(url: str) -> tuple[float, int, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        rows = await conn.fetch(TOTALS_SQL)
        elapsed = time.perf_counter() - started
    finally:
        await conn.close()
    return elapsed, len(rows), sum(r["total"] for r in rows)


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
    result = await settle(database.sessionmaker, SimulatedBank(redis, settle_seconds=0), batch_size=500)
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
            """SELECT (SELECT count(*) FROM earning_lines WHERE payout_id IS NULL) AS unattached,
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

        statement_s, payees, total = asyncio.run(hand_written(db_url))
        print(f"\n(a) hand-written statement: {payees:,} (group, period) totals, {total:,} cents in {statement_s:.2f} s", flush=True)

        env = dict(os.environ, DATABASE_URL=db_url, REDIS_URL=redis_url, LOG_LEVEL="WARNING")
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
            f"[build {timings['build_s']:.2f} s, send {timings['send_s']:.2f} s, poll {timings['poll_s']:.2f} s], "
            f"{wall:.2f} s with interpreter start-up"
        )
        print(f"    peak RSS of the child: {peak_kb / 1024:.0f} MiB (ru_maxrss, RUSAGE_CHILDREN)")
        print(f"    {json.dumps(result)}")
        build_ratio = timings["build_s"] / statement_s
        total_ratio = report["elapsed_s"] / statement_s
        print(f"\nbuild (create + attach + amounts) / statement = {build_ratio:.1f}x; whole settlement / statement = {total_ratio:.1f}x (goal: 2x)")
        checks = asyncio.run(verify(db_url))
        print(f"checks: {checks}")
        ok = checks["unattached"] == 0 and checks["wrong_sums"] == 0 and checks["paid_total"] == checks["lines_total"] == total
        print("every line paid exactly once, every payout the exact sum of its lines" if ok else "CHECKS FAILED")
        print(f"(machine: {harness.CORES} cores, shared; figures are from a busy machine)")


if __name__ == "__main__":
    main()
