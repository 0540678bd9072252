"""Webhooks: delivery throughput, and what writing events costs a booking.

Goals:
  1. deliver N events (default 100,000) to a local receiver answering in 50 ms: at least 500 deliveries a
     second on 2 cores, with the per-endpoint concurrency bound (WEBHOOK_CONCURRENCY_PER_ENDPOINT per worker);
  2. booking a session (POST /v1/groups/{id}/sessions, in process) costs under 10% more with events written and
     a subscribed endpoint than with no event code at all, measured in one run (rounds alternate).

One run: a scratch database (dropped and created, migrated), a receiver process (uvicorn), `--workers`
dispatcher processes as the arq workers run them, then the booking rounds.

  . .venv/bin/activate
  python scripts/bench/bench_webhooks.py [--events 100000] [--workers 2] [--bookings 100] [--rounds 9]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

HERE = Path(__file__).resolve().parent

# A dispatcher process as a worker runs it: rounds until nothing is due, then it reports what it sent.
CHILD = """
import asyncio, json, os
from app.config import get_settings
from app.core.db import Database
from app.webhooks.dispatcher import Dispatcher

async def main():
    settings = get_settings()
    database = Database(settings.database_url, settings)
    dispatcher = Dispatcher(database.sessionmaker, settings)
    async def lane():
        sent = idle = 0
        while idle < 3:
            n = await dispatcher.run_once()
            sent += n
            idle = idle + 1 if n == 0 else 0
            if n == 0:
                await asyncio.sleep(0.2)
        return sent
    sent = sum(await asyncio.gather(*(lane() for _ in range(dispatcher.lanes))))
    await dispatcher.aclose()
    await database.close()
    print(json.dumps({"sent": sent}))

asyncio.run(main())
"""


async def seed_deliveries(url: str, events: int, receiver_url: str) -> None:
    import asyncpg

    from app.core import crypto
    from app.webhooks.dispatcher import SECRET_PURPOSE

    conn = await asyncpg.connect(url)
    try:
        group_id, endpoint_id = uuid.uuid4(), uuid.uuid4()
        async with conn.transaction():
            await conn.execute("INSERT INTO groups (id, name) VALUES ($1, 'Bench Practice')", group_id)
            await conn.execute(
                "INSERT INTO webhook_endpoints (id, group_id, url, event_types, secret_encrypted) VALUES ($1, $2, $3, $4, $5)",
                endpoint_id, group_id, receiver_url, ["payout.paid"], crypto.encrypt("whsec_bench", purpose=SECRET_PURPOSE),
            )
            await conn.execute(
                """INSERT INTO webhook_events (id, group_id, type, object_id, sequence, data)
                   SELECT gen_random_uuid(), $1, 'payout.paid', gen_random_uuid(), 1, '{"changed_fields": ["status"]}'
                   FROM generate_series(1, $2)""", group_id, events)
            await conn.execute(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id) SELECT $1, id FROM webhook_events", endpoint_id)
        await conn.execute("ANALYZE webhook_deliveries; ANALYZE webhook_events")
    finally:
        await conn.close()


async def count_done(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status <> 'pending'")
    finally:
        await conn.close()


def deliver(db_url: str, events: int, workers: int, log_dir: Path) -> dict[str, float]:
    port = harness.free_port()
    receiver = harness.Server("receiver", harness.uvicorn_argv("webhook_receiver:app", port, app_dir=HERE), port)
    receiver.start(log_dir)
    try:
        time.sleep(1.5)
        asyncio.run(seed_deliveries(db_url, events, f"http://127.0.0.1:{port}/hooks"))
        env = dict(os.environ, DATABASE_URL=db_url, ENVIRONMENT="development", LOG_LEVEL="WARNING")
        started = time.perf_counter()
        children = [subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE, text=True,
                                     cwd=str(harness.REPO)) for _ in range(workers)]
        outputs = [child.communicate()[0] for child in children]
        elapsed = time.perf_counter() - started
        sent = [json.loads(out.strip().splitlines()[-1])["sent"] for out in outputs]
        done = asyncio.run(count_done(db_url))
        # The children wait ~0.6 s idle before stopping: not part of the delivery time.
        busy = max(elapsed - 0.6, 0.001)
        return {"events": events, "delivered": done, "attempts": sum(sent), "seconds": busy, "per_s": done / busy}
    finally:
        receiver.stop()


async def booking_rounds(db_url: str, bookings: int, rounds: int) -> dict[str, list[float]]:
    """Mean milliseconds per booking: no event code, events with no endpoint, events with a subscribed endpoint."""
    os.environ.update(DATABASE_URL=db_url, ENVIRONMENT="test", LOG_LEVEL="WARNING", MAIL_BACKEND="log")
    import httpx

    import app.sessions.service as sessions_service
    from app.config import get_settings
    from app.core import crypto
    from app.main import create_app
    from app.memberships.service import make_provider
    from app.models import WebhookEndpoint
    from app.webhooks.dispatcher import SECRET_PURPOSE
    from tests.fixtures.factories import make_group, make_user, user_headers
    from tests.sessions.conftest import make_client

    get_settings.cache_clear()
    application = create_app()
    real_emit = sessions_service.emit

    async def no_emit(*args: object, **kwargs: object) -> None:
        return None

    results: dict[str, list[float]] = {"no events (before)": [], "events, no endpoint": [], "events + subscribed endpoint": []}
    async with application.router.lifespan_context(application):
        async with application.state.db.sessionmaker() as db:
            owner = await make_user(db)
            group = await make_group(db, owner=owner)
            provider = await make_user(db)
            await make_provider(db, group, provider, "LPC")
            clients = [await make_client(db, group, provider, name=f"C{i}") for i in range(20)]
            headers = await user_headers(db, provider)
            endpoint = WebhookEndpoint(id=uuid.uuid4(), group_id=group.id, url="https://partner.example.com/hooks",
                                       event_types=["session.booked"], enabled=False,
                                       secret_encrypted=crypto.encrypt("whsec_bench", purpose=SECRET_PURPOSE))
            db.add(endpoint)
            await db.commit()
        transport = httpx.ASGITransport(app=application)
        slot = datetime(2030, 1, 7, 0, tzinfo=UTC)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            async def book_many(n: int) -> float:
                nonlocal slot
                started = time.perf_counter()
                for i in range(n):
                    slot += timedelta(hours=1)
                    answer = await http.post(f"/v1/groups/{group.id}/sessions", headers=headers, json={
                        "client_id": str(clients[i % len(clients)].id), "starts_at": slot.isoformat(), "kind": "therapy",
                        "duration_minutes": 50, "telehealth": True})
                    assert answer.status_code == 201, answer.text
                return (time.perf_counter() - started) * 1000 / n

            async def set_endpoint(enabled: bool) -> None:
                async with application.state.db.sessionmaker() as db:
                    await db.execute(WebhookEndpoint.__table__.update().values(enabled=enabled))
                    await db.commit()

            await book_many(50)  # warm-up
            async def variant(name: str) -> None:
                sessions_service.emit = no_emit if name == "no events (before)" else real_emit
                await set_endpoint(name == "events + subscribed endpoint")
                results[name].append(await book_many(bookings))

            names = list(results)
            for round_no in range(rounds):
                # Each round in another order: drift of a shared machine does not favour one variant.
                for name in names[round_no % 3:] + names[: round_no % 3]:
                    await variant(name)
            sessions_service.emit = real_emit
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="dispatcher processes (one per arq worker)")
    parser.add_argument("--bookings", type=int, default=100, help="bookings per variant and round")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--database-name", default="caseload_bench_webhooks")
    parser.add_argument("--skip-delivery", action="store_true")
    args = parser.parse_args()
    server_url = os.environ.get("DATABASE_URL", harness.DEFAULT_SERVER_URL)
    log_dir = Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))
    with harness.scratch_database(server_url, args.database_name) as db_url:
        from app.cli import migrate

        migrate(db_url)
        if not args.skip_delivery:
            print(f"Delivering {args.events:,} events to a receiver answering in 50 ms, {args.workers} dispatcher process(es)", flush=True)
            d = deliver(db_url, args.events, args.workers, log_dir)
            print(f"  {d['delivered']:,} delivered ({d['attempts']:,} attempts) in {d['seconds']:.1f} s: "
                  f"{d['per_s']:.0f} deliveries/s (goal >= 500/s)", flush=True)
        print(f"Booking {args.bookings} sessions per variant, {args.rounds} alternating rounds (in process)", flush=True)
        rounds = asyncio.run(booking_rounds(db_url, args.bookings, args.rounds))
        base = statistics.median(rounds["no events (before)"])
        for name, values in rounds.items():
            median = statistics.median(values)
            print(f"  {name:32} {median:6.2f} ms/booking (median of {', '.join(f'{v:.2f}' for v in values)})"
                  f"  {100 * (median / base - 1):+5.1f}%")
        print("  goal: events + subscribed endpoint under +10%")


if __name__ == "__main__":
    main()
