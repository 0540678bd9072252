"""Authenticated `GET /v1/me` against the floor: bare Starlette + asyncpg reading one row.

Goal (the issue): the API's `/v1/me`, token lookup and all, at >= 0.5x the bare endpoint's throughput.
Partner keys (X7): `/v1/me` with an API key, on two API servers of one run, one counting the per-key rate
limit in Redis and one with it switched off (API_KEY_RATE_LIMIT_ENABLED=false): the limit may cost at most
5% (keyed with limit >= 0.95x keyed without), and the keyed `/v1/me` keeps >= 0.5x the bare read.

One run does everything under the same load generator and concurrency: a scratch database on the
server of BENCH_DATABASE_URL (dropped and created WITH (FORCE), migrated, seeded over asyncpg), the real
API (`caseload serve`: uvicorn, uvloop, httptools, LOG_LEVEL=WARNING) and bare_app.py as subprocesses,
warm-up then a measured run per target, a table, and clean-up (servers stopped, database dropped).

  . .venv/bin/activate
  python scripts/bench/bench_me.py            # 10 s per target after a 3 s warm-up
  python scripts/bench/bench_me.py --quick    # about 3 s per target
  python scripts/bench/bench_me.py --rounds 3 --connections 64 --loadgen python --json /tmp/me.json
  python scripts/bench/bench_me.py --variant async-reader=/tmp/exp   # also an experiment's copy of the repo

Targets:
  api /v1/me               the API, authenticated with a login session's bearer token
  api /v1/me key           the API, authenticated with a partner API key, rate limit counted in Redis
  api-nolimit /v1/me key   the same key on a second API server with the rate limit switched off
  bare /users/{id}         bare Starlette reading the same user's row by primary key (the baseline)
  bare /session-lookup     bare Starlette running the API's own authentication statement: the SQL cost
                           without the framework (diagnostic; --no-diagnostics leaves it out)
  api /healthz, bare /healthz   no database at all: framework + middleware cost only (--all)
Exit status: 0 when the goal is met, 3 when it is not (so CI or a script can act on it).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import secrets
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness
from harness import REPO, RunConfig, Server, Target

GOAL = 0.5
KEY_LIMIT_GOAL = 0.95  # X7: the per-key rate limit adds at most 5% to the keyed request's cost
MEMBERSHIPS = [  # (group name, owner, admin, provider): the caller's groups
    ("Bench Practice", True, True, True),
    ("Another Practice", False, False, True),
    ("Third Practice", False, True, False),
]


@dataclass
class Seeded:
    user_id: uuid.UUID
    token: str
    group_ids: list[uuid.UUID]
    api_key: str = ""


KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# High enough that the measured run is never refused: the limit's cost is counting, not refusing.
BENCH_KEY_LIMIT = 1_000_000_000


async def seed(url: str, *, extra_users: int) -> Seeded:
    """One verified user in three groups with a live login session, plus `extra_users` bystanders
    (each with a session and a provider membership in the first group) so the indexes are not trivial."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        user_id = uuid.uuid4()
        token = "cls_" + secrets.token_urlsafe(32)  # as app.core.tokens.new_secret(SESSION_PREFIX)
        group_ids = [uuid.uuid4() for _ in MEMBERSHIPS]
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO groups (id, name) VALUES ($1, $2)",
                [(gid, name) for gid, (name, *_roles) in zip(group_ids, MEMBERSHIPS)],
            )
            await conn.execute(
                "INSERT INTO users (id, email, first_name, last_name, email_verified_at) "
                "VALUES ($1, 'bench@caseload.example', 'Bench', 'Caller', now())",
                user_id,
            )
            await conn.executemany(
                "INSERT INTO memberships (id, group_id, user_id, is_owner, is_admin, is_provider) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                [(uuid.uuid4(), gid, user_id, *roles) for gid, (_name, *roles) in zip(group_ids, MEMBERSHIPS)],
            )
            await conn.execute(
                "INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) "
                "VALUES ($1, $2, $3, now() + interval '12 hours')",
                uuid.uuid4(), user_id, hashlib.sha256(token.encode()).digest(),
            )
            # A live partner key (as app.core.tokens.new_api_key("live")) with the `read` scope, made by the caller.
            api_key = "ck_live_" + "".join(secrets.choice(KEY_ALPHABET) for _ in range(38))
            await conn.execute(
                "INSERT INTO api_keys (id, group_id, name, display_prefix, key_hash, created_by_user_id, scopes, "
                "rate_limit_per_minute) VALUES ($1, $2, 'Bench partner', $3, $4, $5, '{read}', $6)",
                uuid.uuid4(), group_ids[0], api_key[:12], hashlib.sha256(api_key.encode()).digest(), user_id,
                BENCH_KEY_LIMIT,
            )
            others = [uuid.uuid4() for _ in range(extra_users)]
            await conn.copy_records_to_table(
                "users", columns=["id", "email", "first_name", "last_name"],
                records=[(uid, f"user{i}@caseload.example", "Other", f"User {i}") for i, uid in enumerate(others)],
            )
            await conn.copy_records_to_table(
                "memberships", columns=["id", "group_id", "user_id", "is_provider"],
                records=[(uuid.uuid4(), group_ids[0], uid, True) for uid in others],
            )
            await conn.execute(
                "INSERT INTO auth_sessions (id, user_id, token_hash, expires_at) "
                "SELECT gen_random_uuid(), u, sha256(u::text::bytea), now() + interval '12 hours' "
                "FROM unnest($1::uuid[]) AS u",
                others,
            )
        await conn.execute("ANALYZE")
        return Seeded(user_id, token, group_ids, api_key)
    finally:
        await conn.close()


def check_me(seeded: Seeded):  # type: ignore[no-untyped-def]
    def check(status: int, body: bytes) -> None:
        assert status == 200, f"/v1/me answered {status}: {body[:300]!r}"
        data = json.loads(body)
        assert data["user"]["id"] == str(seeded.user_id), data
        roles = {m["group_id"]: m["roles"] for m in data["memberships"]}
        assert len(roles) == len(MEMBERSHIPS), data
        assert roles[str(seeded.group_ids[0])] == ["owner", "admin", "provider"], data

    return check


def check_key_me(seeded: Seeded):  # type: ignore[no-untyped-def]
    def check(status: int, body: bytes) -> None:
        assert status == 200, f"/v1/me with a key answered {status}: {body[:300]!r}"
        data = json.loads(body)
        assert data["kind"] == "api_key", data
        assert data["memberships"][0]["group_id"] == str(seeded.group_ids[0]), data

    return check


def check_user(seeded: Seeded):  # type: ignore[no-untyped-def]
    def check(status: int, body: bytes) -> None:
        assert status == 200 and json.loads(body)["id"] == str(seeded.user_id), (status, body[:300])

    return check


def api_server(port: int, env: dict[str, str], root: Path | None) -> Server:
    """`caseload serve`; with `root`, the same command run from another source tree (an experiment's copy)."""
    if root is None:
        script = Path(sys.executable).with_name("caseload")
        base = [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]
        return Server("api", [*base, "serve", "--host", "127.0.0.1", "--port", str(port)], port, env=env,
                      ready_path="/readyz")
    # `python -m app.cli` with the copy first on the path (it wins over the editable install).
    argv = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return Server("api", argv, port, env={**env, "PYTHONPATH": str(root)}, cwd=root, ready_path="/readyz")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", "-c", type=int, default=32)
    parser.add_argument("--seconds", "-d", type=float, default=10.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per target (discarded)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the median round is reported")
    parser.add_argument("--quick", action="store_true", help="3 s per target after a 1 s warm-up")
    parser.add_argument("--quiet-below", type=float, default=0.10, metavar="SHARE",
                        help="before each run, wait until other processes use less than this share of all cores")
    parser.add_argument("--quiet-wait", type=float, default=60.0, metavar="SECONDS",
                        help="... but no longer than this (0: do not wait)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                        help="auto: wrk when installed, else loadgen.py")
    parser.add_argument("--no-diagnostics", action="store_true", help="only the two targets of the goal")
    parser.add_argument("--all", action="store_true", help="also /healthz on both servers (no database)")
    parser.add_argument("--extra-users", type=int, default=1000, help="bystander users and sessions to seed")
    parser.add_argument("--log-level", default="WARNING", help="the API's LOG_LEVEL (INFO writes an access-log "
                        "line per request: the harness reports the lines written)")
    parser.add_argument("--database-name", default="caseload_bench")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database behind")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                        help="also load /v1/me on the API run from another source tree (an experiment's copy of "
                        "the repository), in the same run; repeatable")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.warmup = 3.0, 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server_url = os.environ.get("BENCH_DATABASE_URL", harness.DEFAULT_SERVER_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
    config = RunConfig(connections=args.connections, seconds=args.seconds, warmup_seconds=args.warmup,
                       rounds=args.rounds, database=args.database_name, quiet_below=args.quiet_below,
                       quiet_wait_seconds=args.quiet_wait)
    generator = harness.load_generator(args.loadgen)

    with harness.scratch_database(server_url, args.database_name, keep=args.keep_db) as db_url:
        from app.cli import migrate

        migrate(db_url)
        seeded = asyncio.run(seed(db_url, extra_users=args.extra_users))

        api_port, bare_port = harness.free_port(), harness.free_port()
        # WARNING: the access log (one INFO line per request) is off, as it would be in a throughput test;
        # --log-level INFO measures what it costs.
        api_env = {"DATABASE_URL": db_url, "REDIS_URL": redis_url, "LOG_LEVEL": args.log_level,
                   "API_KEY_RATE_LIMIT_MAX": str(BENCH_KEY_LIMIT)}
        api = api_server(api_port, api_env, None)
        unlimited = api_server(harness.free_port(), {**api_env, "API_KEY_RATE_LIMIT_ENABLED": "false"}, None)
        unlimited.name = "api-nolimit"
        variants = []
        for spec in args.variant:
            name, _, root = spec.partition("=")
            server = api_server(harness.free_port(), api_env, Path(root).resolve())
            server.name = f"api[{name}]"
            variants.append(server)
        bare = Server(
            "bare", harness.uvicorn_argv("bare_app:app", bare_port, app_dir=harness.HERE), bare_port,
            env={"BARE_DATABASE_URL": db_url, "PYTHONPATH": str(REPO)},
        )
        bearer = {"Authorization": f"Bearer {seeded.token}"}
        me = Target("api /v1/me", api, "/v1/me", bearer, check=check_me(seeded))
        baseline = Target("bare /users/{id}", bare, f"/users/{seeded.user_id}", check=check_user(seeded),
                          note="baseline: one user row by primary key")
        keyed = {"X-API-Key": seeded.api_key}
        key_me = Target("api /v1/me key", api, "/v1/me", keyed, check=check_key_me(seeded),
                        note="a partner API key, its rate limit counted in Redis (one EVALSHA)")
        key_me_unlimited = Target("api-nolimit /v1/me key", unlimited, "/v1/me", keyed, check=check_key_me(seeded),
                                  note="the same key, API_KEY_RATE_LIMIT_ENABLED=false")
        targets = [me, baseline, key_me, key_me_unlimited]
        targets += [Target(f"{v.name} /v1/me", v, "/v1/me", bearer, check=check_me(seeded)) for v in variants]
        if not args.no_diagnostics:
            targets.append(Target("bare /session-lookup", bare, "/session-lookup", bearer, check=check_me(seeded),
                                  note="the API's own auth statement, answered like /v1/me, without the framework"))
        if args.all:
            targets += [Target("api /healthz", api, "/healthz"), Target("bare /healthz", bare, "/healthz")]

        with harness.running([api, unlimited, bare, *variants]):
            results = harness.run_all(generator, targets, config)

    ratios: list[tuple[str, str, float | None]] = [(me.name, baseline.name, GOAL)]
    ratios += [(key_me.name, key_me_unlimited.name, KEY_LIMIT_GOAL), (key_me.name, baseline.name, GOAL)]
    ratios += [(t.name, baseline.name, GOAL) for t in targets if t.name.startswith("api[")]
    if not args.no_diagnostics:
        ratios += [(me.name, "bare /session-lookup", None), ("bare /session-lookup", baseline.name, None)]
    if args.all:
        ratios.append(("api /healthz", "bare /healthz", None))
    outcomes = harness.report(results, targets, config, generator, ratios=ratios)
    if args.json:
        harness.write_json(args.json, results, config, generator, outcomes)
    return 0 if all(met is not False for *_rest, met in outcomes) else 3


if __name__ == "__main__":
    sys.exit(main())
