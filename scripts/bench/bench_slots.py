"""Open slots of one provider over 4 weeks, in a 50-provider group with a year of sessions (~100,000).

Goal: `GET /v1/groups/{id}/providers/{user_id}/open-slots` (4 weeks, the provider's weekly hours minus their
live sessions, time off and buffers) answers with p99 under 20 ms at a steady 100 requests a second (open loop:
latency counts from each request's scheduled time, so a queue cannot hide).

  . .venv/bin/activate
  python scripts/bench/bench_slots.py [--quick] [--rate 100] [--connections 10]
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from bench_members import api_env, api_server, common_parser, finish_args, get_json, run_config
from bench_sessions import seed
from harness import Target

GOAL_P99_MS = 20.0


async def add_availability(url: str, seeded: dict) -> None:
    """Weekdays 08:00-18:00 in New York for every provider (the seeded sessions fill 13:00-21:00 UTC), a day off
    every other week for the measured one, and a 10-minute buffer."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("""
                INSERT INTO provider_profiles (group_id, user_id, license_type, booking_slug)
                SELECT group_id, user_id, 'LPC', 'bench-' || user_id FROM memberships WHERE group_id = $1 AND is_provider
                ON CONFLICT DO NOTHING""", seeded["group_id"])
            await conn.execute("""
                INSERT INTO provider_availability (group_id, provider_user_id, time_zone)
                SELECT group_id, user_id, 'America/New_York' FROM memberships WHERE group_id = $1 AND is_provider""",
                               seeded["group_id"])
            await conn.execute("""
                INSERT INTO provider_weekly_hours (id, group_id, provider_user_id, weekday, start_time, end_time, effective_from)
                SELECT gen_random_uuid(), group_id, user_id, d, '08:00', '18:00', '2025-01-01'
                FROM memberships, generate_series(0, 4) d WHERE group_id = $1 AND is_provider""", seeded["group_id"])
            await conn.execute("""
                INSERT INTO provider_time_off (id, group_id, provider_user_id, starts_at, ends_at, all_day)
                SELECT gen_random_uuid(), $1, $2, d, d + interval '1 day', true
                FROM generate_series(now()::date::timestamptz, now() + interval '1 year', interval '14 days') d""",
                               seeded["group_id"], seeded["provider_id"])
            await conn.execute("""
                INSERT INTO group_booking_settings (group_id, minimum_notice_minutes, horizon_days, therapy_minutes,
                                                    consultation_minutes, buffer_minutes)
                VALUES ($1, 60, 90, 50, 15, 10)""", seeded["group_id"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = common_parser(__doc__, "caseload_bench_slots")
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second, open loop")
    parser.set_defaults(connections=10)
    args = finish_args(parser.parse_args(argv))
    server_url = os.environ.get("BENCH_DATABASE_URL", harness.DEFAULT_SERVER_URL)
    config = run_config(args)
    config.rate = args.rate
    generator = harness.load_generator("python")  # open loop needs loadgen.py
    with harness.scratch_database(server_url, args.database_name, keep=args.keep_db) as db_url:
        from app.cli import migrate

        migrate(db_url)
        seeded = asyncio.run(seed(db_url))
        asyncio.run(add_availability(db_url, seeded))
        api = api_server(harness.free_port(), api_env(db_url, args.log_level), None)
        start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        query = (f"from={start.isoformat().replace('+00:00', 'Z')}&to={(start + timedelta(days=28)).isoformat().replace('+00:00', 'Z')}"
                 "&kind=therapy")
        path = f"/v1/groups/{seeded['group_id']}/providers/{seeded['provider_id']}/open-slots?{query}"
        bearer = {"Authorization": f"Bearer {seeded['token']}"}
        target = Target("api open slots, 4 weeks", api, path, bearer)
        with harness.running([api]):
            found = get_json(f"{api.base_url}{path}", bearer)
            print(f"open slots over 4 weeks: {len(found['slots'])} (time zone {found['time_zone']})", flush=True)
            results = harness.run_all(generator, [target], config)
    harness.report(results, [target], config, generator)
    p99 = results.chosen(target.name).p99_ms
    met = p99 < GOAL_P99_MS
    print(f"\np99 at {args.rate:g} req/s open loop: {p99:.2f} ms   goal < {GOAL_P99_MS:g} ms: {'MET' if met else 'NOT MET'}")
    return 0 if met else 3


if __name__ == "__main__":
    sys.exit(main())
