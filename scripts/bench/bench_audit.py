"""The audit log of a group with 1,000,000 events: the first page of `GET /v1/groups/{id}/audit-events` (R3).

Goal (the issue): the first page answers in under 50 ms with an index-backed plan, on a group of 1,000,000 audit
rows (plus 300,000 rows of 100 other groups in the same table and indexes).

One run: a scratch database (dropped and created WITH (FORCE), migrated), the events written with COPY-speed
INSERT ... SELECT (the chain trigger off for the seed: chaining a million rows one by one is not what is measured;
the chain head is then set, so the route's own audit row is chained as in service), VACUUM ANALYZE, then:

  1. each statement the route issues (app.audit.queries, the exact text), on a connection planning it once as the
     reader pool does (plan_cache_mode = force_generic_plan): EXPLAIN (ANALYZE, BUFFERS) printed, then its time
     over --repeat executions (median, p99). The first page also writes the reader's own audit row, as in the API
     (inside a transaction rolled back after each run, so the table does not grow);
  2. the same first pages over HTTP through the real API (`caseload serve`): --requests sequential requests each,
     median and p99 of the wall time the client sees.

  . .venv/bin/activate
  python scripts/bench/bench_audit.py              # 1,000,000 rows (seed about a minute)
  python scripts/bench/bench_audit.py --rows 100000 --repeat 50

Exit status: 0 when the goal is met (first page, unfiltered and by actor, under 50 ms over HTTP at the median and
an index scan in the plan), 3 when not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import harness
from bench_members import api_env, api_server, new_session_token, token_hash

GOAL_MS = 50.0
OTHER_GROUPS = 100


async def seed(url: str, rows: int) -> dict:
    import asyncpg

    conn = await asyncpg.connect(url)
    group_id, owner_id = uuid.uuid4(), uuid.uuid4()
    token = new_session_token()
    actors = [uuid.uuid4() for _ in range(50)]
    try:
        async with conn.transaction():
            await conn.execute("INSERT INTO groups (id, name) VALUES ($1, 'Audit Bench Practice')", group_id)
            await conn.execute("INSERT INTO users (id, email, first_name, last_name, email_verified_at) "
                               "VALUES ($1, 'owner@audit.bench.example', 'Olive', 'Owner', now())", owner_id)
            await conn.execute("INSERT INTO memberships (id, group_id, user_id, is_owner, is_admin, is_provider) "
                               "VALUES ($1, $2, $3, true, true, false)", uuid.uuid4(), group_id, owner_id)
            await conn.execute("INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) "
                               "VALUES ($1, $2, $3, now() + interval '12 hours')", uuid.uuid4(), owner_id, token_hash(token))
            await conn.execute("SET LOCAL session_replication_role = replica")  # the seed skips the chain trigger
            other_groups = [uuid.uuid4() for _ in range(OTHER_GROUPS)]
            started = time.perf_counter()
            # A year of events, newest last: reads of the roster and calendar (no client), single reads and
            # changes of 20,000 clients, documents (client in details), refusals; 50 actors.
            seed_sql = """
                INSERT INTO audit_events (at, actor_user_id, actor_ip, request_id, action, target_type, target_id,
                                          group_id, client_id, outcome, details, chain_seq, hash)
                SELECT now() - make_interval(secs => ($2 - n) * (31536000.0 / $2)),
                       ($3::uuid[])[1 + n % 50], '203.0.113.7', md5(n::text),
                       (ARRAY['client.list_read','session.list_read','client.read','client.updated',
                              'document.downloaded','session.read','access.refused'])[1 + n % 7],
                       CASE n % 7 WHEN 0 THEN 'client' WHEN 1 THEN 'session' WHEN 4 THEN 'client_document'
                                  WHEN 5 THEN 'session' ELSE 'client' END,
                       CASE WHEN n % 7 IN (2, 3, 6) THEN c::text WHEN n % 7 IN (4, 5) THEN md5(n::text)::uuid::text END,
                       $1, CASE WHEN n % 7 IN (2, 3, 4, 6) THEN c END,
                       CASE WHEN n % 7 = 6 THEN 'refused' ELSE 'success' END,
                       CASE WHEN n % 7 = 4 THEN jsonb_build_object('client_id', c::text) ELSE '{}'::jsonb END,
                       n, sha256(int8send(n))
                  FROM generate_series(1::bigint, $2::bigint) n,
                       LATERAL (SELECT md5('client' || ((n * 7919) % 20000)::text)::uuid AS c) cl
            """
            await conn.execute(seed_sql, group_id, rows, actors)
            for g in other_groups:
                await conn.execute(seed_sql, g, 3000, actors)
            await conn.execute("INSERT INTO audit_chain_heads (chain_key, seq, hash) SELECT group_id, max(chain_seq), "
                               "sha256(int8send(max(chain_seq))) FROM audit_events GROUP BY group_id")
            print(f"seeded {rows:,} events in the group and {OTHER_GROUPS * 3000:,} in {OTHER_GROUPS} others "
                  f"in {time.perf_counter() - started:.1f} s", flush=True)
        await conn.execute("VACUUM ANALYZE audit_events")
        client = await conn.fetchval("SELECT client_id FROM audit_events WHERE group_id = $1 AND client_id IS NOT NULL "
                                     "ORDER BY at DESC LIMIT 1", group_id)
        middle = await conn.fetchval("SELECT now() - interval '180 days'")
        return {"group_id": group_id, "owner_id": owner_id, "token": token, "actor": actors[7], "client": client,
                "middle": middle}
    finally:
        await conn.close()


def cases(seeded: dict) -> list[tuple[str, dict]]:
    from datetime import timedelta

    return [
        ("first page", {}),
        ("by actor", {"actor_id": seeded["actor"]}),
        ("by client", {"client_id": seeded["client"]}),
        ("by object", {"target_type": "client", "target_id": str(seeded["client"])}),
        ("a week, 6 months ago", {"start": seeded["middle"], "end": seeded["middle"] + timedelta(days=7)}),
        ("by action", {"action": "client.updated"}),
        ("rare action", {"action": "audit.export"}),
    ]


async def statements(url: str, seeded: dict, repeat: int) -> list[tuple[str, float, float, str]]:
    import asyncpg

    from app.audit import queries

    conn = await asyncpg.connect(url)
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    results = []
    try:
        for name, filters in cases(seeded):
            sql = queries.page_statement(list(filters), after=False, size=51, record=True)
            args = [seeded["group_id"], seeded["owner_id"], None, "127.0.0.1", "bench", '{"filters": []}',
                    *filters.values()]
            statement = await conn.prepare(sql)
            times = []
            for _ in range(repeat):
                transaction = conn.transaction()
                await transaction.start()
                started = time.perf_counter()
                await statement.fetch(*args)
                times.append((time.perf_counter() - started) * 1000)
                await transaction.rollback()
            transaction = conn.transaction()
            await transaction.start()
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args))
            await transaction.rollback()
            times.sort()
            results.append((name, statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], plan))
    finally:
        await conn.close()
    return results


def http_times(base_url: str, path: str, token: str, requests: int) -> tuple[float, float, int]:
    times, size = [], 0
    for _ in range(requests):
        request = urllib.request.Request(base_url + path, headers={"Authorization": f"Bearer {token}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
            assert response.status == 200
        times.append((time.perf_counter() - started) * 1000)
        size = len(body)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="audit events of the benchmark group")
    parser.add_argument("--repeat", type=int, default=200, help="executions of each statement")
    parser.add_argument("--requests", type=int, default=200, help="sequential HTTP requests per case")
    parser.add_argument("--database-name", default="caseload_bench_audit")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    server_url = os.environ.get("BENCH_DATABASE_URL", harness.DEFAULT_SERVER_URL)
    print(f"cores: {os.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    ok = True
    with harness.scratch_database(server_url, args.database_name, keep=args.keep_db) as db_url:
        from app.cli import migrate

        migrate(db_url)
        seeded = asyncio.run(seed(db_url, args.rows))
        print("\n== statements (generic plans, as the reader pool runs them) ==")
        for name, median, p99, plan in asyncio.run(statements(db_url, seeded, args.repeat)):
            print(f"\n-- {name}: median {median:.2f} ms, p99 {p99:.2f} ms\n{plan}")
            if name in ("first page", "by actor") and ("Index Scan" not in plan or "Seq Scan on audit_events" in plan):
                ok = False
                print(f"   NOT index-backed: {name}")
        env = api_env(db_url, args.log_level)
        api = api_server(harness.free_port(), env, None)
        log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_audit_{os.getpid()}"
        log_dir.mkdir(parents=True, exist_ok=True)
        api.start(log_dir)
        try:
            api.wait_ready()
            print("\n== HTTP, first page of 50, sequential requests through `caseload serve` ==")
            gid = seeded["group_id"]
            for name, query in (("first page", ""), ("by actor", f"&actor_id={seeded['actor']}"),
                                ("by client", f"&client_id={seeded['client']}")):
                http_times(api.base_url, f"/v1/groups/{gid}/audit-events?limit=50{query}", seeded["token"], 10)  # warm
                median, p99, size = http_times(api.base_url, f"/v1/groups/{gid}/audit-events?limit=50{query}",
                                               seeded["token"], args.requests)
                goal = median < GOAL_MS
                ok = ok and (goal or name == "by client")
                print(f"{name:>12}: median {median:.1f} ms, p99 {p99:.1f} ms ({size:,} bytes)   "
                      f"goal < {GOAL_MS:.0f} ms: {'met' if goal else 'NOT MET'}")
        finally:
            api.stop()
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
